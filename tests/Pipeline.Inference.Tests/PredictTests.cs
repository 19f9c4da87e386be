using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using Pipeline.Contracts;
using Pipeline.Artifacts;
using Pipeline.ML.Data;
using Pipeline.Storage.Artifacts;
using Microsoft.Extensions.DependencyInjection;

namespace Pipeline.Inference.Tests;

public sealed class PredictTests
{
    [Fact]
    public async Task Predict_returns_a_prediction_per_row_and_publishes_the_observation_batch()
    {
        await using var host = await InferenceHost.StartAsync(async s =>
        {
            await InferenceHost.RegisterAsync(s, seed: 1);
            await InferenceHost.SetProductionAsync(s, 1);
        });
        var rows = Data.Rows(3, seed: 7);

        var response = await host.PostJsonAsync("/predict", Data.PredictJson(rows));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = (await response.Content.ReadFromJsonAsync<PredictResponse>())!;
        Assert.Equal(InferenceHost.ModelId, body.ModelId);
        Assert.Equal(1, body.Version);
        Assert.NotEqual(Guid.Empty, body.BatchId);
        Assert.Equal(3, body.Predictions.Count);
        foreach (var p in body.Predictions)
        {
            Assert.Equal(10, p.Probabilities.Length);
            Assert.Equal(1f, p.Probabilities.Sum(), 1e-4f);
            Assert.Equal(Array.IndexOf(p.Probabilities, p.Probabilities.Max()), p.Class);
            Assert.Equal(p.Probabilities.Max(), p.Confidence);
            Assert.Equal(FashionMnist.ClassNames[p.Class], p.Label);
        }

        Data.AssertMatches(await host.ExpectedAsync(1, rows), body.Predictions);

        var observed = await host.Recorder.WaitForAsync<ObservationsIngested>(o => o.BatchId == body.BatchId);
        Assert.Equal(InferenceHost.ModelId, observed.ModelId);
        Assert.Equal(1, observed.ModelVersion);
        Assert.Equal(3, observed.Count);
        Assert.Equal(784, observed.FeatureCount);
        Assert.Equal(body.Predictions.Select(p => p.Class), observed.Predictions);
        Assert.Equal(body.Predictions.Select(p => p.Confidence), observed.Confidences!);
        Assert.Equal($"artifact://observations/{InferenceHost.ModelId}/{body.BatchId}.pfb", observed.Features.Uri);

        // The blob on disk hashes to the SHA-256 in the message and holds exactly the request's rows.
        var path = Path.Combine(host.ArtifactRoot, "observations", InferenceHost.ModelId, $"{body.BatchId}.pfb");
        var bytes = await File.ReadAllBytesAsync(path);
        Assert.Equal(observed.Features.Sha256, Convert.ToHexStringLower(SHA256.HashData(bytes)));
        Assert.Equal(bytes.Length, observed.Features.SizeBytes);
        var verified = await host.Services.GetRequiredService<IArtifactStore>()
            .ReadAllBytesVerifiedAsync(observed.Features.Uri, observed.Features.Sha256);
        var blob = FeatureBlob.FromBytes(verified);
        Assert.Equal(3, blob.Rows);
        Assert.Equal(784, blob.Columns);
        Assert.Null(blob.Labels);
        Assert.Equal(rows.SelectMany(r => r), blob.Features);
    }

    [Fact]
    public async Task Model_endpoint_and_metrics_report_the_loaded_version()
    {
        await using var host = await InferenceHost.StartAsync(async s =>
        {
            await InferenceHost.RegisterAsync(s, seed: 1);
            await InferenceHost.SetProductionAsync(s, 1);
        });

        var status = (await host.Http.GetFromJsonAsync<ModelStatus>("/model"))!;
        Assert.Equal(InferenceHost.ModelId, status.ModelId);
        Assert.Equal(1, status.Version);
        Assert.Equal("mlp", status.Architecture);
        Assert.Equal((await host.VersionAsync(1)).Sha256, status.Sha256);
        Assert.True(status.LoadedAt > DateTimeOffset.UtcNow.AddMinutes(-5));

        Assert.Equal(HttpStatusCode.OK, (await host.PostJsonAsync("/predict", Data.PredictJson(Data.Rows(2, 1)))).StatusCode);
        var metrics = await host.Http.GetStringAsync("/metrics");
        Assert.Contains("inference_predictions_total{model_id=\"fashion-mnist\",version=\"1\"}", metrics, StringComparison.Ordinal);
        Assert.Contains("inference_model_version{model_id=\"fashion-mnist\"}", metrics, StringComparison.Ordinal);
        Assert.Contains("inference_request_duration_seconds_bucket{endpoint=\"predict\",code=\"200\"", metrics, StringComparison.Ordinal);
        // Where a request's time goes: every stage of the served path is observed.
        foreach (var stage in new[] { "read", "validate", "ledger", "forward", "store", "publish" })
        {
            Assert.Contains($"inference_request_stage_seconds_count{{stage=\"{stage}\"}}", metrics, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Feedback_publishes_LabelsObserved()
    {
        await using var host = await InferenceHost.StartAsync(async s =>
        {
            await InferenceHost.RegisterAsync(s, seed: 1);
            await InferenceHost.SetProductionAsync(s, 1);
        });
        var predicted = await host.PostJsonAsync("/predict", Data.PredictJson(Data.Rows(3, seed: 4)));
        var batchId = (await predicted.Content.ReadFromJsonAsync<PredictResponse>())!.BatchId;

        var response = await host.PostJsonAsync("/feedback", $$"""{"batchId":"{{batchId}}","labels":[0,9,3]}""");

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var body = (await response.Content.ReadFromJsonAsync<FeedbackResponse>())!;
        Assert.Equal(batchId, body.BatchId);
        Assert.Equal(3, body.Count);
        var labels = await host.Recorder.WaitForAsync<LabelsObserved>(l => l.BatchId == batchId);
        Assert.Equal(InferenceHost.ModelId, labels.ModelId);
        Assert.Equal([0, 9, 3], labels.Labels);
    }

    [Fact]
    public async Task Without_observations_nothing_is_stored_or_published()
    {
        await using var host = await InferenceHost.StartAsync(
            async s =>
            {
                await InferenceHost.RegisterAsync(s, seed: 1);
                await InferenceHost.SetProductionAsync(s, 1);
            },
            new Dictionary<string, string?> { ["Inference:PublishObservations"] = "false" });

        var response = await host.PostJsonAsync("/predict", Data.PredictJson(Data.Rows(2, 3)));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await Task.Delay(200);
        Assert.Empty(host.Recorder.All<ObservationsIngested>());
        Assert.False(Directory.Exists(Path.Combine(host.ArtifactRoot, "observations")));
    }
}
