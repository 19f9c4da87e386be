using System.Text.Json;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Artifacts;
using Pipeline.Contracts;
using Pipeline.DriftDetection;
using Pipeline.ML.Models;
using Pipeline.Storage.Artifacts;
using Pipeline.Storage.Repositories;

namespace Pipeline.Integration.Tests;

/// <summary>
/// DriftDetection judges production batches on what Inference published from its one forward pass (predictions,
/// confidences, embeddings): with the model's file gone after its profile was built, batches are still evaluated,
/// embedding MMD included, before and after a monitor rebuild. A batch without embeddings (an older client) is
/// evaluated on the rest and says so.
/// </summary>
public class DriftServedEmbeddingsTests
{
    private const string ModelId = "served-embeddings";

    [Fact]
    public async Task Production_batches_are_evaluated_with_the_published_embeddings_and_never_load_the_model()
    {
        await using var hosts = new ServiceHosts("served-emb");
        var log = new DriftWindowLogModule();
        var drift = await hosts.StartAsync([new DriftDetectionModule(), log], new Dictionary<string, string?>
        {
            ["DriftDetection:WindowSize"] = "100", ["DriftDetection:MmdPermutations"] = "20", ["DriftDetection:MaxReferenceRows"] = "300",
        });
        var record = await Seed.BaseModelAsync(drift.Services, ModelId);
        var store = drift.Services.GetRequiredService<IArtifactStore>();
        var profile = await drift.Services.GetRequiredService<ReferenceProfileStore>().EnsureProfileAsync(ModelId, 1, CancellationToken.None);
        Assert.Equal("embedding", profile.Multivariate!.Source);

        // Serve the rows as Inference does (one pass), then take the model's file away: DriftDetection cannot load it.
        var modelPath = await store.GetVerifiedLocalPathAsync(record.ArtifactUri, record.Sha256);
        var served = new List<ObservationsIngested>();
        using (var model = ModelBundle.Load(modelPath, TorchSharp.torch.CPU))
        {
            foreach (var (rows, seed) in new[] { (150, 40), (50, 41) })
            {
                served.Add(await ServeAsync(drift.Services, model, Synthetic.Rows(rows, seed, shifted: false)));
            }
        }

        File.Delete(modelPath);
        var bus = drift.Services.GetRequiredService<IBus>();
        await bus.Publish(served[0]);
        await log.WaitForRowsAsync(100, TimeSpan.FromSeconds(90));

        // The next batch finds the monitor gone: it is rebuilt from storage and replays the 50 pending rows with their stored embeddings.
        drift.Services.GetRequiredService<MonitorRegistry>().Evict(ModelId);
        await bus.Publish(served[1]);
        var windows = await log.WaitForRowsAsync(200, TimeSpan.FromSeconds(90));

        Assert.Equal(2, windows.Count);
        Assert.All(windows, w => Assert.Equal("ok", w.Status));
        foreach (var report in await drift.Services.GetRequiredService<IDriftRepository>().ListReportsAsync(ModelId))
        {
            using var json = JsonDocument.Parse(report.ReportJson!);
            var mmd = json.RootElement.GetProperty("mmd");
            Assert.Equal(100, mmd.GetProperty("currentSize").GetInt32());
            Assert.DoesNotContain(json.RootElement.GetProperty("problems").EnumerateArray(), p => p.GetString()!.Contains("embedding", StringComparison.Ordinal));
        }

        Assert.Equal(0, DriftMetrics.RowsWithoutEmbedding.WithLabels(ModelId).Value);

        // An older client's batch (no embeddings): stored and evaluated on everything else, the window says what was left out.
        var old = served[0] with { BatchId = Guid.NewGuid(), Embeddings = null, EmbeddingWidth = null, Count = 100, Predictions = served[0].Predictions.Take(100).ToList(), Confidences = served[0].Confidences!.Take(100).ToList() };
        var datasets = new DatasetArtifacts(store);
        var (first, _) = (await datasets.LoadAsync(served[0].Features, CancellationToken.None)).Split(100);
        old = old with { Features = await datasets.SaveAsync(first, "observations", $"{ModelId}/{old.BatchId}.pfb", CancellationToken.None) };
        await bus.Publish(old);
        windows = await log.WaitForRowsAsync(300, TimeSpan.FromSeconds(90));

        var last = windows.Single(w => w.Batches.Any(b => b.BatchId == old.BatchId));
        Assert.Equal("ok", last.Status);
        var stored = (await drift.Services.GetRequiredService<IDriftRepository>().ListReportsAsync(ModelId)).Single(r => r.WindowId == last.WindowId);
        using var oldJson = JsonDocument.Parse(stored.ReportJson!);
        Assert.Contains(oldJson.RootElement.GetProperty("problems").EnumerateArray(), p => p.GetString()!.Contains("100 rows without a finite embedding", StringComparison.Ordinal));
        Assert.Equal(100, DriftMetrics.RowsWithoutEmbedding.WithLabels(ModelId).Value);
    }

    /// <summary>What Inference publishes for a batch: features and the serving pass's embeddings in the store, predictions and confidences inline.</summary>
    private static async Task<ObservationsIngested> ServeAsync(IServiceProvider services, ModelBundle model, FeatureBlob rows)
    {
        var datasets = new DatasetArtifacts(services.GetRequiredService<IArtifactStore>());
        var features = Enumerable.Range(0, rows.Rows).Select(i => rows.Row(i).ToArray()).ToList();
        var (predictions, embeddings) = model.Serve(features);
        var id = Guid.NewGuid();
        var width = embeddings[0].Length;
        return new ObservationsIngested
        {
            ModelId = ModelId, ModelVersion = 1, BatchId = id, Count = rows.Rows, FeatureCount = rows.Columns,
            Features = await datasets.SaveAsync(new FeatureBlob(rows.Rows, rows.Columns, rows.Features), "observations", $"{ModelId}/{id}.pfb", CancellationToken.None),
            Embeddings = await datasets.SaveAsync(
                new FeatureBlob(rows.Rows, width, embeddings.SelectMany(e => e).ToArray()), "observations", $"{ModelId}/{id}.emb.pfb", CancellationToken.None),
            EmbeddingWidth = width,
            Predictions = predictions.Select(p => p.Class).ToList(),
            Confidences = predictions.Select(p => p.Probabilities[p.Class]).ToList(),
        };
    }
}
