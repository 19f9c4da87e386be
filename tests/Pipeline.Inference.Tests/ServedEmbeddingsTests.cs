using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Contracts;
using Pipeline.Artifacts;
using Pipeline.ML.Models;
using Pipeline.Storage.Artifacts;

namespace Pipeline.Inference.Tests;

/// <summary>
/// Inference publishes the embeddings of the forward pass that made its predictions, beside the features, so drift
/// detection never runs the model on production rows; they equal what drift detection computed with its own pass.
/// </summary>
public sealed class ServedEmbeddingsTests
{
    private static async Task<ObservationsIngested> PredictAsync(InferenceHost host, float[][] rows)
    {
        var response = await host.PostJsonAsync("/predict", Data.PredictJson(rows));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = (await response.Content.ReadFromJsonAsync<PredictResponse>())!;
        return await host.Recorder.WaitForAsync<ObservationsIngested>(o => o.BatchId == body.BatchId);
    }

    [Fact]
    public async Task The_published_embeddings_equal_the_embedding_pass_drift_detection_made_for_the_same_rows()
    {
        await using var host = await InferenceHost.StartAsync(async s =>
        {
            await InferenceHost.RegisterAsync(s, seed: 1);
            await InferenceHost.SetProductionAsync(s, 1);
        });
        var rows = Data.Rows(7, seed: 11);

        var observed = await PredictAsync(host, rows);

        Assert.NotNull(observed.Embeddings);
        Assert.Equal($"artifact://observations/{InferenceHost.ModelId}/{observed.BatchId}.emb.pfb", observed.Embeddings!.Uri);
        var store = host.Services.GetRequiredService<IArtifactStore>();
        var published = FeatureBlob.FromBytes(await store.ReadAllBytesVerifiedAsync(observed.Embeddings.Uri, observed.Embeddings.Sha256));
        Assert.Equal(7, published.Rows);
        Assert.Equal(observed.EmbeddingWidth, published.Columns);

        // What DriftDetection computed before: the model loaded from the registry, then a second pass (ModelBundle.Embed).
        var record = await host.VersionAsync(1);
        var path = await store.GetVerifiedLocalPathAsync(record.ArtifactUri, record.Sha256);
        using var model = ModelBundle.Load(path, TorchSharp.torch.CPU);
        var expected = model.Embed(rows);
        Assert.Equal(((BuiltInNetwork)model.Model).EmbeddingDim, published.Columns);
        for (var i = 0; i < rows.Length; i++)
        {
            var row = published.Row(i).ToArray();
            var worst = expected[i].Zip(row).Max(p => Math.Abs(p.First - p.Second));
            Assert.True(worst <= 1e-5, $"row {i}: largest difference {worst}");
        }

        // And the predictions and confidences in the message are that pass's arg-max.
        var predicted = model.Predict(rows);
        Assert.Equal(predicted.Select(p => p.Class), observed.Predictions);
        Assert.Equal(predicted.Select(p => p.Probabilities[p.Class]), observed.Confidences!, new ToleranceComparer(1e-5f));
    }

    [Fact]
    public async Task Without_PublishEmbeddings_the_batch_names_no_embeddings()
    {
        await using var host = await InferenceHost.StartAsync(
            async s =>
            {
                await InferenceHost.RegisterAsync(s, seed: 1);
                await InferenceHost.SetProductionAsync(s, 1);
            },
            new Dictionary<string, string?> { ["Inference:PublishEmbeddings"] = "false" });

        var observed = await PredictAsync(host, Data.Rows(2, seed: 3));

        Assert.Null(observed.Embeddings);
        Assert.Null(observed.EmbeddingWidth);
        Assert.False(File.Exists(Path.Combine(host.ArtifactRoot, "observations", InferenceHost.ModelId, $"{observed.BatchId}.emb.pfb")));
    }

    private sealed class ToleranceComparer(float tolerance) : IEqualityComparer<float>
    {
        public bool Equals(float x, float y) => Math.Abs(x - y) <= tolerance;

        public int GetHashCode(float obj) => 0;
    }
}
