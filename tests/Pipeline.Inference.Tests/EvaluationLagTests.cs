using System.Net;
using System.Net.Http.Json;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Contracts;

namespace Pipeline.Inference.Tests;

/// <summary>Bounded lag: beyond Inference:MaxLagRows unevaluated rows, predict is a 503 with Retry-After; evaluated windows let traffic in again.</summary>
public sealed class EvaluationLagTests
{
    [Fact]
    public async Task Beyond_the_bound_predict_is_503_with_retry_after_until_windows_are_evaluated()
    {
        await using var host = await InferenceHost.StartAsync(
            async s =>
            {
                await InferenceHost.RegisterAsync(s, seed: 1);
                await InferenceHost.SetProductionAsync(s, 1);
            },
            new Dictionary<string, string?> { ["Inference:MaxLagRows"] = "5" });
        var lag = host.Services.GetRequiredService<EvaluationLag>();

        var first = await host.PostJsonAsync("/predict", Data.PredictJson(Data.Rows(4, seed: 1)));
        var second = await host.PostJsonAsync("/predict", Data.PredictJson(Data.Rows(4, seed: 2)));
        var refused = await host.PostJsonAsync("/predict", Data.PredictJson(Data.Rows(1, seed: 3)));
        var v2 = await new OpenInferenceClient(host.Http).InferAsync(InferenceHost.ModelId, OpenInferenceClient.Parse(
            $$"""{"inputs":[{"name":"input","shape":[1,784],"datatype":"FP32","data":{{OpenInferenceClient.Json(Data.Rows(1, seed: 4)[0])}}}]}"""));

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal(8, lag.Rows(InferenceHost.ModelId));
        await BadRequestTests.AssertProblemAsync(refused, HttpStatusCode.ServiceUnavailable, "8 accepted rows not yet evaluated for drift; the bound is 5", "lag");
        Assert.NotNull(refused.Headers.RetryAfter);
        Assert.Equal(503, v2.Status);

        // Drift detection evaluates a window holding the first batch and half the second.
        var batches = new List<Guid>();
        foreach (var r in new[] { first, second })
            batches.Add((await r.Content.ReadFromJsonAsync<PredictResponse>())!.BatchId);
        await host.Services.GetRequiredService<IBus>().Publish(new DriftWindowEvaluated
        {
            ModelId = InferenceHost.ModelId, ModelVersion = 1, WindowId = "w1", Rows = 6, DatasetDrift = false, ShareDrifted = 0,
            Status = "ok", Batches = [new WindowBatchSegment { BatchId = batches[0], Rows = 4 }, new WindowBatchSegment { BatchId = batches[1], Rows = 2 }],
        });
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (lag.Rows(InferenceHost.ModelId) != 2)
            await Task.Delay(20, cts.Token);

        var again = await host.PostJsonAsync("/predict", Data.PredictJson(Data.Rows(1, seed: 5)));
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(3, lag.Rows(InferenceHost.ModelId));
    }
}
