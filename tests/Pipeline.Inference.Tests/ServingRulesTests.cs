using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Artifacts;
using Pipeline.Contracts;
using Pipeline.ML.Models;

namespace Pipeline.Inference.Tests;

/// <summary>Inference never answers 500 to input: non-finite outputs (422), categorical codes (400), repeated feedback (409).</summary>
public sealed class ServingRulesTests
{
    /// <summary>A raw-scale "tabular" model of 784 columns (the mlp flattens its input); column 0 categorical with 3 codes.</summary>
    /// <remarks>The first layer's weights are all 1, so a row of huge raw values overflows to a non-finite output.</remarks>
    private static Task<InferenceHost> TabularHostAsync() => InferenceHost.StartAsync(async s =>
    {
        using var bundle = ModelBundle.Create("mlp", 3);
        using (TorchSharp.torch.no_grad())
        {
            bundle.Model.NamedParameters().First(p => p.Name.EndsWith("fc1.weight", StringComparison.Ordinal)).Parameter.fill_(1f);
        }

        var features = Enumerable.Range(0, 784).Select(i => i == 0
            ? new FeatureSpec { Name = "colour", Kind = FeatureSpec.Categorical, Cardinality = 3 }
            : new FeatureSpec { Name = $"x{i}", Kind = FeatureSpec.Numeric }).ToArray();
        bundle.SetInfo(bundle.Info with { InputShape = [784], InputScale = ModelManifest.RawScale, Features = features });
        await s.GetRequiredService<ModelArtifacts>()
            .RegisterAsync(InferenceHost.ModelId, bundle, "tests", new VersionMetadata(), null, CancellationToken.None);
        await InferenceHost.SetProductionAsync(s, 1);
    });

    private static float[] Row(float first = 1f, float rest = 0.5f) => [first, .. Enumerable.Repeat(rest, 783)];

    [Fact]
    public async Task A_non_finite_output_is_a_422_naming_the_rows_and_nothing_is_recorded()
    {
        await using var host = await TabularHostAsync();

        var response = await host.PostJsonAsync("/predict", Data.PredictJson([Row(), Row(rest: 1e37f), Row()]));

        await BadRequestTests.AssertProblemAsync(response, (HttpStatusCode)422, "row instances[1] is not finite", "1e38");
        await Task.Delay(200);
        Assert.Empty(host.Recorder.All<Pipeline.Contracts.ObservationsIngested>());
        var fine = await host.PostJsonAsync("/predict", Data.PredictJson([Row()]));
        Assert.Equal(HttpStatusCode.OK, fine.StatusCode);
    }

    [Theory]
    [InlineData(99f, "is 99")]
    [InlineData(-1f, "is -1")]
    [InlineData(1.5f, "is 1.5")]
    [InlineData(3f, "is 3")]
    public async Task A_categorical_code_outside_the_declared_cardinality_is_a_400(float code, string expected)
    {
        await using var host = await TabularHostAsync();

        var json = await host.PostJsonAsync("/predict", Data.PredictJson([Row(), Row(first: code)]));
        var binary = new ByteArrayContent(OpenInferenceClient.Fp32([Row(first: code)]));
        binary.Headers.ContentType = new("application/octet-stream");
        var raw = await host.Http.PostAsync("/predict", binary);

        await BadRequestTests.AssertProblemAsync(json, HttpStatusCode.BadRequest, $"instances[1][0] {expected}; column 'colour' is categorical with 3 categories", "json");
        await BadRequestTests.AssertProblemAsync(raw, HttpStatusCode.BadRequest, $"row 0, value 0 {expected}", "binary");
        Assert.Equal(HttpStatusCode.OK, (await host.PostJsonAsync("/predict", Data.PredictJson([Row(first: 2f)]))).StatusCode);
    }

    [Fact]
    public async Task A_second_feedback_for_the_same_batch_is_refused_with_409_and_the_first_labels_stand()
    {
        await using var host = await InferenceHost.StartAsync(async s =>
        {
            await InferenceHost.RegisterAsync(s, seed: 1);
            await InferenceHost.SetProductionAsync(s, 1);
        });
        var predicted = await (await host.PostJsonAsync("/predict", Data.PredictJson(Data.Rows(2, seed: 1)))).Content.ReadFromJsonAsync<PredictResponse>();

        var first = await host.Http.PostAsJsonAsync("/feedback", new { batchId = predicted!.BatchId, labels = new[] { 1, 2 } });
        var second = await host.Http.PostAsJsonAsync("/feedback", new { batchId = predicted.BatchId, labels = new[] { 3, 4 } });

        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        await BadRequestTests.AssertProblemAsync(second, HttpStatusCode.Conflict, "already has its labels", "again");
        await host.Recorder.WaitForAsync<Pipeline.Contracts.LabelsObserved>(l => l.BatchId == predicted.BatchId);
        await Task.Delay(200);
        Assert.Equal([1, 2], host.Recorder.All<Pipeline.Contracts.LabelsObserved>().Single(l => l.BatchId == predicted.BatchId).Labels);
    }

    [Fact]
    public async Task Readiness_names_the_warmed_up_models()
    {
        await using var host = await InferenceHost.StartAsync(async s =>
        {
            await InferenceHost.RegisterAsync(s, seed: 1);
            await InferenceHost.SetProductionAsync(s, 1);
        });

        var ready = await host.Http.GetStringAsync("/health/ready");

        Assert.Contains("serving fashion-mnist v1", ready, StringComparison.Ordinal);
    }
}
