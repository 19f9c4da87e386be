using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Pipeline.Artifacts;
using Pipeline.Contracts;
using Pipeline.ML.Models;
using Microsoft.Extensions.DependencyInjection;

namespace Pipeline.Inference.Tests;

public sealed class MultiModelTests
{
    private const string Second = "second-model";

    [Fact]
    public async Task Every_deployed_model_is_served_by_id_and_unknown_ids_get_404_with_the_reason()
    {
        await using var host = await InferenceHost.StartAsync(async s =>
        {
            await InferenceHost.RegisterAsync(s, seed: 1);
            await InferenceHost.SetProductionAsync(s, 1);
            using var other = ModelBundle.Create("mlp", 9);
            var record = await s.GetRequiredService<ModelArtifacts>().RegisterAsync(Second, other, "test", new VersionMetadata(), null, CancellationToken.None);
            await s.GetRequiredService<Pipeline.Storage.Repositories.IModelRegistry>().SetProductionAsync(Second, record.Version, "test", "second", CancellationToken.None);
        });
        var rows = Data.Rows(2, seed: 3);

        var list = await host.Http.GetFromJsonAsync<List<ModelStatus>>("/models");
        Assert.Equal([InferenceHost.ModelId, Second], list!.Select(m => m.ModelId));
        Assert.All(list!, m => Assert.Equal([1, 28, 28], m.InputShape));

        var response = await host.PostJsonAsync($"/models/{Second}/predict", Data.PredictJson(rows));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = (await response.Content.ReadFromJsonAsync<PredictResponse>())!;
        Assert.Equal(Second, body.ModelId);
        var batch = body.BatchId;
        var feedback = await host.PostJsonAsync($"/models/{Second}/feedback", $$"""{ "batchId": "{{batch}}", "labels": [1, 2] }""");
        Assert.Equal(HttpStatusCode.Accepted, feedback.StatusCode);

        var wrongWidth = await host.PostJsonAsync($"/models/{Second}/predict", """{ "instances": [[0.5, 0.5, 0.5]] }""");
        Assert.Equal(HttpStatusCode.BadRequest, wrongWidth.StatusCode);
        Assert.Contains("every row must have 784 (input shape [1, 28, 28])", await wrongWidth.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        var unknown = await host.PostJsonAsync("/models/nobody/predict", Data.PredictJson(rows));
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Contains("No model 'nobody' is deployed here", await unknown.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_openapi_document_describes_the_per_model_routes()
    {
        await using var host = await InferenceHost.StartAsync(_ => Task.CompletedTask);
        using var doc = JsonDocument.Parse(await host.Http.GetStringAsync("/openapi/v1.json"));
        var paths = doc.RootElement.GetProperty("paths");
        foreach (var route in new[] { "/predict", "/feedback", "/models", "/models/{model}", "/models/{model}/predict", "/models/{model}/feedback" })
            Assert.True(paths.TryGetProperty(route, out _), $"{route} is missing from the OpenAPI document");
        Assert.True(paths.GetProperty("/models/{model}/predict").GetProperty("post").TryGetProperty("requestBody", out _));
    }
}
