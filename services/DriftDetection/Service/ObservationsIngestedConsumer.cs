using System.Text.Json;
using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pipeline.Adaptation;
using Pipeline.Contracts;
using Pipeline.Drift.Monitoring;
using Pipeline.Hosting;
using Pipeline.Storage.Artifacts;
using Pipeline.Storage.Repositories;

namespace Pipeline.DriftDetection;

/// <summary>
/// ObservationsIngested → batch stored (for adaptation sets) → drift monitor → a report per closed
/// window → DriftDetected when the hysteresis says so and no run is in flight, paused or cooling down;
/// the run owner starts the run.
/// </summary>
public sealed class ObservationsIngestedConsumer(
    IObservationRepository observations, IDriftRepository drift, IModelRegistry registry,
    MonitorRegistry monitors, DatasetArtifacts datasets, IOptions<DriftDetectionOptions> options, ILogger<ObservationsIngestedConsumer> logger)
    : IConsumer<ObservationsIngested>
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public async Task Consume(ConsumeContext<ObservationsIngested> context)
    {
        var m = context.Message;
        var ct = context.CancellationToken;
        Hosting.Artifacts.FeatureBlob rows;
        try
        {
            rows = await datasets.LoadAsync(m.Features, ct);
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

        if (await registry.GetVersionAsync(m.ModelId, m.ModelVersion, ct) is null)
        {
            throw new CommandRejectedException($"batch {m.BatchId}: model {m.ModelId} v{m.ModelVersion} is unknown");
        }

        using var modelLock = await monitors.LockAsync(m.ModelId, ct);
        var added = await observations.AddBatchAsync(new ObservationBatch
        {
            ModelId = m.ModelId, BatchId = m.BatchId.ToString(), ModelVersion = m.ModelVersion, RowCount = m.Count,
            FeaturesUri = m.Features.Uri, FeaturesSha256 = m.Features.Sha256, Predictions = m.Predictions, Labels = m.Labels,
        }, ct);
        if (!added)
        {
            logger.LogInformation("Batch {BatchId} was already ingested; skipped", m.BatchId);
            return;
        }

        DriftMetrics.RecordLabels(m.ModelId, m.ModelVersion, m.Predictions, m.Labels);

        DriftMonitor monitor;
        ML.Models.ModelBundle? embedder;
        try
        {
            (monitor, embedder) = await monitors.GetAsync(m.ModelId, m.ModelVersion, ct);
        }
        catch (Exception ex) when (ex is ModelNotFoundException or InvalidDataException or ArtifactStoreException or Drift.DriftInputException)
        {
            // The batch is stored; without a profile it cannot be judged. Say so loudly, once per batch.
            logger.LogError("Batch {BatchId} of {ModelId} v{Version} stored but not evaluated: {Reason}", m.BatchId, m.ModelId, m.ModelVersion, ex.Message);
            DriftMetrics.Windows.WithLabels(m.ModelId, "error").Inc();
            return;
        }

        var result = monitor.Ingest(
            MonitorRegistry.ToObservations(rows, embedder, embedder is not null, m.Predictions, m.Confidences, m.Labels),
            new RowSource(m.BatchId.ToString(), m.Timestamp));
        if (result.Rejected > 0)
        {
            DriftMetrics.RowsRejected.WithLabels(m.ModelId).Inc(result.Rejected);
            logger.LogWarning("Batch {BatchId}: {Rejected} rows rejected: {Problems}", m.BatchId, result.Rejected, string.Join("; ", result.Problems));
        }

        foreach (var window in result.Windows)
        {
            await HandleWindowAsync(context, m, window, ct);
        }
    }

    private async Task HandleWindowAsync(ConsumeContext context, ObservationsIngested m, WindowReport window, CancellationToken ct)
    {
        var reportId = Guid.NewGuid();
        var windowId = $"{m.ModelId}-v{m.ModelVersion}-w{window.WindowId}";
        await drift.AddReportAsync(new DriftReport
        {
            Id = reportId, ModelId = m.ModelId, ModelVersion = m.ModelVersion, WindowId = windowId,
            WindowStart = window.ClosedAt, WindowEnd = window.ClosedAt, RowCount = window.Rows,
            DatasetDrift = window.DatasetDrift, ShareDrifted = window.ShareDrifted, Severity = window.Severity.ToString(),
            ReportJson = JsonSerializer.Serialize(window, Json),
        }, ct);
        DriftMetrics.Windows.WithLabels(m.ModelId, window.Status == WindowStatus.Error ? "error" : window.DatasetDrift ? "drifted" : "clean").Inc();
        DriftMetrics.ShareDrifted.WithLabels(m.ModelId).Set(window.ShareDrifted);
        DriftMetrics.DatasetDriftScore.WithLabels(m.ModelId).Set(window.DatasetDriftScore);
        if (window.Trigger is { } trigger)
        {
            DriftMetrics.Decisions.WithLabels(m.ModelId, trigger.Outcome).Inc();
        }

        if (window.Performance is { EstimatedAccuracy: { } estimated, EstimatedDrop: { } drop })
        {
            DriftMetrics.EstimatedAccuracy.WithLabels(m.ModelId).Set(estimated);
            DriftMetrics.EstimatedAccuracyDrop.WithLabels(m.ModelId).Set(drop);
        }

        DriftMetrics.RecordWindow(m.ModelId, m.ModelVersion, window, options.Value.MetricsTopFeatures);

        await context.Publish(Evaluated(m, windowId, window), ct);
        logger.LogInformation(
            "Window {WindowId}: {Rows} rows, drift {Drift} (share {Share:P0}, severity {Severity}, {Consecutive} in a row): {Outcome}: {Reason}",
            windowId, window.Rows, window.DatasetDrift, window.ShareDrifted, window.Severity, window.ConsecutiveDriftedWindows,
            window.Trigger?.Outcome, window.Trigger?.Reason);

        if (!window.Raise)
        {
            return;
        }

        // The run's owner starts the run (or not, when the model has one); the monitor holds further
        // raises until it hears AdaptationRunFinished for this run.
        var runId = NewId.NextGuid();
        DriftMetrics.RunsStarted.WithLabels(m.ModelId, "drift").Inc();
        var lastClean = (await drift.ListReportsAsync(m.ModelId, 200, ct))
            .Where(r => r.ModelVersion == m.ModelVersion && !r.DatasetDrift)
            .MaxBy(r => r.CreatedAt);
        await context.Publish(new DriftDetected
        {
            DriftStartedAt = lastClean?.CreatedAt,
            RunId = runId, ModelId = m.ModelId, ModelVersion = m.ModelVersion, WindowId = windowId,
            Severity = (Contracts.DriftSeverity)(int)window.Severity,
            DatasetDriftScore = Math.Clamp(window.DatasetDriftScore, 0, 1),
            TopFeatures = window.Features
                .Where(f => f.PValue is not null)
                .OrderBy(f => f.PValue)
                .Take(5)
                .Select(f => new FeatureDriftScore
                {
                    Name = f.Name, Test = f.Kind == "categorical" ? "chi2" : "ks",
                    Statistic = f.KsStatistic ?? f.ChiSquared ?? 0, PValue = Math.Clamp(f.PValue!.Value, 0, 1), Psi = f.Psi, Drifted = f.Drifted,
                })
                .ToList(),
        }, ct);
    }

    /// <summary>Every evaluated window is announced, with the batch segments whose rows were new in it.</summary>
    private static DriftWindowEvaluated Evaluated(ObservationsIngested m, string windowId, WindowReport window) => new()
    {
        ModelId = m.ModelId, ModelVersion = m.ModelVersion, WindowId = windowId, Rows = window.Rows,
        DatasetDrift = window.DatasetDrift, ShareDrifted = Math.Clamp(window.ShareDrifted, 0, 1), Raised = window.Raise,
        Status = window.Status switch
        {
            WindowStatus.Evaluated => "ok",
            WindowStatus.InsufficientData => "insufficient_data",
            _ => "error",
        },
        Batches = window.NewRows
            .Select(s => new WindowBatchSegment { BatchId = Guid.Parse(s.Source), Rows = s.Rows, AcceptedAt = s.AcceptedAt })
            .ToList(),
    };
}
