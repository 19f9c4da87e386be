using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pipeline.Artifacts;
using Pipeline.AdaptationRuns;
using Pipeline.Drift.Monitoring;
using Pipeline.Storage.Repositories;

namespace Pipeline.DriftDetection;

/// <summary>
/// A model's monitor synchronised with storage, as <see cref="MonitorRegistry.GetAsync"/> hands it out: the windows
/// that closed while it was rebuilt from stored batches, and the stored rows it rejected then, still to be recorded
/// by the caller (both empty when the monitor was current).
/// </summary>
public sealed record SyncedMonitor(DriftMonitor Monitor, IReadOnlyList<WindowReport> Closed, IReadOnlyList<(string BatchId, int Rows)> Rejected);

/// <summary>
/// The monitor cache: one drift monitor per model, for the version serving production traffic. Storage is
/// the truth: a monitor is (re)built when this replica has none, when the model's stored window sequence or
/// pending rows differ from the monitor's (another replica handled the model meanwhile, or a failure left it
/// behind), and then it re-ingests the stored batch rows not yet counted in a window, with the embeddings Inference
/// stored beside them: the model is never loaded for production rows, only for a profile. Run in flight and
/// cooldown come from the run owner's events (asked of the run module's query when a monitor is built); pause is
/// synchronised from the database before every batch.
/// </summary>
public sealed class MonitorRegistry(
    ReferenceProfileStore profiles, IDriftWindowRepository windows, RunWorkQuery runs, IAdaptationPauseRepository pauses,
    DatasetArtifacts datasets, IOptions<DriftDetectionOptions> options, TimeProvider time, ILogger<MonitorRegistry> logger)
{
    private readonly ConcurrentDictionary<string, Entry> monitors = new();
    private readonly ConcurrentDictionary<string, SemaphoreSlim> locks = new();

    private sealed record Entry(int Version, DriftMonitor Monitor);

    /// <summary>Serialises work on one model (monitor state, run start) across concurrent consumers.</summary>
    public async Task<IDisposable> LockAsync(string modelId, CancellationToken ct)
    {
        var gate = locks.GetOrAdd(modelId, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(ct);
        return new Releaser(gate);
    }

    /// <summary>
    /// The monitor for this model version, as storage says it should be (call under the model's lock, before
    /// storing a new batch), with suppression synchronised from the database.
    /// </summary>
    public async Task<SyncedMonitor> GetAsync(string modelId, int version, CancellationToken ct)
    {
        var progress = await windows.GetProgressAsync(modelId, ct);
        var pending = await windows.CountPendingRowsAsync(modelId, version, ct);
        if (monitors.TryGetValue(modelId, out var entry) && entry.Version == version
            && entry.Monitor.LastWindowId == progress.LastWindow && entry.Monitor.PendingRows == pending)
        {
            await SyncAsync(modelId, entry.Monitor, ct);
            return new SyncedMonitor(entry.Monitor, [], []);
        }

        if (entry is not null && entry.Version == version)
        {
            logger.LogInformation(
                "Monitor of {ModelId} v{Version} is stale (window {Mine}, {MinePending} rows pending; storage: window {Stored}, {StoredPending} pending): rebuilding",
                modelId, version, entry.Monitor.LastWindowId, entry.Monitor.PendingRows, progress.LastWindow, pending);
        }

        Evict(modelId);
        var profile = await profiles.EnsureProfileAsync(modelId, version, ct);
        var monitor = new DriftMonitor(profile, options.Value.ToMonitorOptions(), time, await InitialStateAsync(modelId, progress, ct));
        var fresh = new Entry(version, monitor);
        var (closed, rejected) = await ReplayPendingAsync(modelId, version, fresh, ct);
        monitors[modelId] = fresh;
        logger.LogInformation(
            "Monitoring {ModelId} v{Version} against a profile of {Rows} reference rows from window {Window} on, {Pending} stored rows replayed",
            modelId, version, profile.Rows, progress.LastWindow + 1, pending);
        await SyncAsync(modelId, monitor, ct);
        return new SyncedMonitor(monitor, closed, rejected);
    }

    /// <summary>Forgets the model's monitor (after a failure that may have left it ahead of storage): the next batch rebuilds it.</summary>
    public void Evict(string modelId)
    {
        monitors.TryRemove(modelId, out _);
    }

    /// <summary>
    /// Late labels of a batch count toward the observed accuracy of the monitor's next window, when that
    /// monitor still watches the version that made the predictions. Returns false when it does not.
    /// </summary>
    public bool RecordFeedback(string modelId, int version, int labelled, int correct)
    {
        if (!monitors.TryGetValue(modelId, out var entry) || entry.Version != version)
        {
            return false;
        }

        entry.Monitor.RecordFeedback(labelled, correct);
        return true;
    }

    /// <summary>The run owner started a run of this model (AdaptationRunStarted).</summary>
    public void RunStarted(string modelId)
    {
        if (monitors.TryGetValue(modelId, out var entry))
        {
            entry.Monitor.RunStarted();
        }
    }

    /// <summary>The model's run ended (AdaptationRunFinished): a cooldown after an adaptation, none after a failure.</summary>
    public void RunFinished(string modelId, bool adapted)
    {
        if (!monitors.TryGetValue(modelId, out var entry))
        {
            return;
        }

        if (adapted)
        {
            entry.Monitor.AdaptationFinished();
        }
        else
        {
            entry.Monitor.RunAbandoned();
        }
    }

    /// <summary>Re-ingests the stored rows of this version not yet counted in a window, batch by batch, from each batch's first pending row.</summary>
    private async Task<(List<WindowReport> Closed, List<(string, int)> Rejected)> ReplayPendingAsync(
        string modelId, int version, Entry entry, CancellationToken ct)
    {
        var closed = new List<WindowReport>();
        var rejected = new List<(string, int)>();
        foreach (var batch in await windows.ListPendingAsync(modelId, version, ct))
        {
            var rows = await datasets.LoadAsync(batch.FeaturesUri, batch.FeaturesSha256, ct);
            var embeddings = batch is { EmbeddingsUri: { } uri, EmbeddingsSha256: { } sha }
                ? await datasets.LoadAsync(uri, sha, ct)
                : null;
            int from = batch.RowsDone;
            if (from > 0)
            {
                rows = rows.Split(from).Tail;
                embeddings = embeddings?.Split(from).Tail;
            }

            var observations = ReferenceProfileStore.ToObservations(
                rows, embeddings, batch.Predictions.Skip(from).ToList(), batch.Confidences?.Skip(from).ToList(), batch.Labels?.Skip(from).ToList());
            var result = entry.Monitor.Ingest(observations, new RowSource(batch.BatchId, batch.AcceptedAt));
            closed.AddRange(result.Windows);
            if (result.Rejected > 0)
            {
                rejected.Add((batch.BatchId, result.Rejected));
            }
        }

        return (closed, rejected);
    }

    private async Task<DriftMonitorState> InitialStateAsync(string modelId, DriftWindowProgress progress, CancellationToken ct)
    {
        var activity = await runs.ActivityAsync(modelId, ct);
        var paused = await pauses.IsPausedAsync(modelId, ct);
        DateTimeOffset? cooldown = activity.LastDecidedAt is { } finished ? finished + options.Value.Cooldown : null;
        return new DriftMonitorState(progress.LastWindow, progress.Consecutive, activity.Active, paused, cooldown);
    }

    private async Task SyncAsync(string modelId, DriftMonitor monitor, CancellationToken ct)
    {
        if (await pauses.IsPausedAsync(modelId, ct))
        {
            monitor.Pause();
        }
        else
        {
            monitor.Resume();
        }
    }

    private sealed class Releaser(SemaphoreSlim gate) : IDisposable
    {
        public void Dispose() => gate.Release();
    }
}
