using MassTransit;
using Microsoft.Extensions.Logging;
using Pipeline.Artifacts;
using Pipeline.Contracts;
using Pipeline.Drift.Monitoring;
using Pipeline.Hosting;
using Pipeline.Storage.Artifacts;
using Pipeline.Storage.Repositories;

namespace Pipeline.DriftDetection;

/// <summary>
/// ObservationsIngested (features, predictions, confidences and embeddings from Inference's one forward pass; the
/// model is not run here) → batch stored (for adaptation sets, and to rebuild the open window on another
/// replica or after a restart) → drift monitor → each closed window stored with the batch rows new in it and
/// announced → DriftDetected when the hysteresis says so and no run is in flight, paused or cooling down;
/// the run owner starts the run.
/// </summary>
public sealed class ObservationsIngestedConsumer(
    IObservationRepository observations, IDriftWindowRepository windows, IModelRegistry registry,
    MonitorRegistry monitors, WindowRecorder recorder, DatasetArtifacts datasets, ILogger<ObservationsIngestedConsumer> logger)
    : IConsumer<ObservationsIngested>
{
    public async Task Consume(ConsumeContext<ObservationsIngested> context)
    {
        var m = context.Message;
        var ct = context.CancellationToken;
        Artifacts.FeatureBlob rows;
        Artifacts.FeatureBlob? embeddings;
        try
        {
            rows = await datasets.LoadAsync(m.Features, ct);
            embeddings = m.Embeddings is { } e ? await datasets.LoadAsync(e, ct) : null;
        }
        catch (ArtifactStoreException ex)
        {
            throw new CommandRejectedException($"batch {m.BatchId}: {ex.Message}");
        }

        if (rows.Rows != m.Count || rows.Columns != m.FeatureCount)
        {
            throw new CommandRejectedException(
                $"batch {m.BatchId}: features are {rows.Rows} × {rows.Columns}, the message says {m.Count} × {m.FeatureCount}");
        }

        if (embeddings is not null && (embeddings.Rows != m.Count || embeddings.Columns != m.EmbeddingWidth))
        {
            throw new CommandRejectedException(
                $"batch {m.BatchId}: embeddings are {embeddings.Rows} × {embeddings.Columns}, the message says {m.Count} × {m.EmbeddingWidth}");
        }

        if (await registry.GetVersionAsync(m.ModelId, m.ModelVersion, ct) is null)
        {
            throw new CommandRejectedException($"batch {m.BatchId}: model {m.ModelId} v{m.ModelVersion} is unknown");
        }

        using var modelLock = await monitors.LockAsync(m.ModelId, ct);
        try
        {
            await IngestAsync(context, m, rows, embeddings, ct);
        }
        catch
        {
            // The monitor may be ahead of storage now: the retry (or the next batch) rebuilds it from storage.
            monitors.Evict(m.ModelId);
            throw;
        }
    }

    private async Task IngestAsync(
        ConsumeContext context, ObservationsIngested m, Artifacts.FeatureBlob rows, Artifacts.FeatureBlob? embeddings, CancellationToken ct)
    {
        // The monitor first, as storage says it should be before this batch: a rebuild replays the stored rows
        // not yet counted (this batch too, when an earlier attempt stored it and then failed).
        SyncedMonitor? synced = null;
        string? unavailable = null;
        try
        {
            synced = await monitors.GetAsync(m.ModelId, m.ModelVersion, ct);
        }
        catch (Exception ex) when (ex is ModelNotFoundException or InvalidDataException or ArtifactStoreException or Drift.DriftInputException)
        {
            unavailable = ex.Message;
        }

        if (synced is not null)
        {
            await RecordAsync(context, m.ModelId, synced.Closed, synced.Rejected, ct);
        }

        var added = await observations.AddBatchAsync(new ObservationBatch
        {
            ModelId = m.ModelId, BatchId = m.BatchId.ToString(), ModelVersion = m.ModelVersion, RowCount = m.Count,
            FeaturesUri = m.Features.Uri, FeaturesSha256 = m.Features.Sha256, Predictions = m.Predictions, Labels = m.Labels,
            Confidences = m.Confidences, AcceptedAt = m.Timestamp, DriftRowsDone = 0,
            EmbeddingsUri = m.Embeddings?.Uri, EmbeddingsSha256 = m.Embeddings?.Sha256,
        }, ct);
        if (!added)
        {
            logger.LogInformation("Batch {BatchId} was already ingested; skipped", m.BatchId);
            return;
        }

        DriftMetrics.RecordLabels(m.ModelId, m.ModelVersion, m.Predictions, m.Labels);
        if (synced is null)
        {
            // The batch is stored (and counted once a monitor can be built); without a profile it cannot be judged now.
            logger.LogError("Batch {BatchId} of {ModelId} v{Version} stored but not evaluated: {Reason}", m.BatchId, m.ModelId, m.ModelVersion, unavailable);
            DriftMetrics.Windows.WithLabels(m.ModelId, "error").Inc();
            return;
        }

        if (embeddings is null && synced.Monitor.Profile.Multivariate?.Source == "embedding")
        {
            // An older client's batch: judged on everything but the embedding MMD (the window says so); never a second forward here.
            DriftMetrics.RowsWithoutEmbedding.WithLabels(m.ModelId).Inc(m.Count);
        }

        var result = synced.Monitor.Ingest(
            ReferenceProfileStore.ToObservations(rows, embeddings, m.Predictions, m.Confidences, m.Labels),
            new RowSource(m.BatchId.ToString(), m.Timestamp));
        if (result.Rejected > 0)
        {
            logger.LogWarning("Batch {BatchId}: {Rejected} rows rejected: {Problems}", m.BatchId, result.Rejected, string.Join("; ", result.Problems));
        }

        await RecordAsync(context, m.ModelId, result.Windows, result.Rejected > 0 ? [(m.BatchId.ToString(), result.Rejected)] : [], ct);
    }

    private async Task RecordAsync(
        ConsumeContext context, string modelId, IReadOnlyList<WindowReport> closed, IReadOnlyList<(string BatchId, int Rows)> rejected, CancellationToken ct)
    {
        foreach (var (batchId, count) in rejected)
        {
            DriftMetrics.RowsRejected.WithLabels(modelId).Inc(count);
            await windows.MarkRowsDoneAsync(modelId, batchId, count, ct);
        }

        foreach (var window in closed)
        {
            await recorder.RecordAsync(context, window, ct);
        }
    }
}
