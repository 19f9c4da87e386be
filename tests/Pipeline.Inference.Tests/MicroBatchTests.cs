using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Contracts;

namespace Pipeline.Inference.Tests;

/// <summary>Micro-batching across requests (Inference:MicroBatchMaxRows): fewer forward passes, the same answers, each request its own batch.</summary>
public sealed class MicroBatchTests
{
    private static Task<InferenceHost> StartAsync(IDictionary<string, string?>? extra = null) =>
        InferenceHost.StartAsync(
            async s =>
            {
                await InferenceHost.RegisterAsync(s, seed: 1);
                await InferenceHost.SetProductionAsync(s, 1);
            },
            extra);

    [Fact]
    public async Task Concurrent_requests_share_forward_passes_and_each_gets_its_own_rows_back()
    {
        await using var host = await StartAsync(new Dictionary<string, string?>
        {
            ["Inference:MicroBatchMaxRows"] = "64",
            ["Inference:MicroBatchMaxDelay"] = "00:00:00.200",
        });
        var batcher = host.Services.GetRequiredService<ForwardBatcher>();
        var inputs = Enumerable.Range(0, 12).Select(i => Data.Rows(1 + (i % 4), seed: 100 + i)).ToList();
        var before = batcher.ForwardPasses;

        var responses = await Task.WhenAll(inputs.Select(rows => host.PostJsonAsync("/predict", Data.PredictJson(rows))));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        var passes = batcher.ForwardPasses - before;
        Assert.True(passes < inputs.Count, $"{inputs.Count} concurrent requests took {passes} forward passes");
        var batchIds = new HashSet<Guid>();
        for (var i = 0; i < inputs.Count; i++)
        {
            var answer = (await responses[i].Content.ReadFromJsonAsync<PredictResponse>())!;
            Data.AssertMatches(await host.ExpectedAsync(1, inputs[i]), answer.Predictions);
            Assert.True(batchIds.Add(answer.BatchId), "every request is its own observation batch");
            var observed = await host.Recorder.WaitForAsync<ObservationsIngested>(o => o.BatchId == answer.BatchId);
            Assert.Equal(inputs[i].Length, observed.Count);
            Assert.Equal(inputs[i].Length, observed.Predictions.Count);
            Assert.NotNull(observed.Embeddings);
            Assert.True(observed.EmbeddingWidth > 0);
        }
    }

    [Fact]
    public async Task Off_by_default_every_request_runs_its_own_pass()
    {
        await using var host = await StartAsync();
        var batcher = host.Services.GetRequiredService<ForwardBatcher>();
        var before = batcher.ForwardPasses;

        var responses = await Task.WhenAll(Enumerable.Range(0, 6).Select(i => host.PostJsonAsync("/predict", Data.PredictJson(Data.Rows(2, seed: i)))));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.False(batcher.Enabled);
        Assert.Equal(6, batcher.ForwardPasses - before);
    }
}
