using System.Text.Json;
using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pipeline.Contracts;
using Pipeline.Drift.Monitoring;
using Pipeline.Storage.Repositories;

namespace Pipeline.DriftDetection;

/// <summary>Another replica stored a window of this model since this replica's monitor was built: the message is retried on a rebuilt monitor.</summary>
public sealed class StaleMonitorException(string message) : Exception(message);

/// <summary>
/// A closed window: stored with the batch rows new in it and the model's window sequence in one transaction,
/// then measured, announced (DriftWindowEvaluated) and, when the monitor says so, raised (DriftDetected).
/// </summary>
public sealed class WindowRecorder(IDriftRepository drift, IDriftWindowRepository windows, IOptions<DriftDetectionOptions> options, ILogger<WindowRecorder> logger)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>The stored window id: unique per model across restarts and replicas (the sequence lives in storage).</summary>
    public static string WindowId(string modelId, int version, long sequence) => $"{modelId}-v{version}-w{sequence}";

    public async Task RecordAsync(IPublishEndpoint bus, WindowReport window, CancellationToken ct)
    {
        var (modelId, version) = (window.ModelId, window.ModelVersion);
        var windowId = WindowId(modelId, version, window.WindowId);
        var stored = await windows.RecordWindowAsync(new DriftWindowRecord
        {
            Report = new DriftReport
            {
                Id = Guid.NewGuid(), ModelId = modelId, ModelVersion = version, WindowId = windowId,
                WindowStart = window.ClosedAt, WindowEnd = window.ClosedAt, RowCount = window.Rows,
                DatasetDrift = window.DatasetDrift, ShareDrifted = window.ShareDrifted, Severity = window.Severity.ToString(),
                ReportJson = JsonSerializer.Serialize(window, Json),
            },
            Sequence = window.WindowId,
            Consecutive = window.Raise ? 0 : window.ConsecutiveDriftedWindows,
            Segments = window.NewRows.Select(s => (s.Source, s.Rows)).ToList(),
        }, ct);
        if (!stored)
        {
            throw new StaleMonitorException($"window {window.WindowId} of {modelId} was stored by another replica meanwhile");
        }

        Measure(window);
        await bus.Publish(Evaluated(windowId, window), ct);
        logger.LogInformation(
            "Window {WindowId}: {Rows} rows ({New} new), drift {Drift} (share {Share:P0}, severity {Severity}, {Consecutive} in a row): {Outcome}: {Reason}",
            windowId, window.Rows, window.NewRows.Sum(s => s.Rows), window.DatasetDrift, window.ShareDrifted, window.Severity,
            window.ConsecutiveDriftedWindows, window.Trigger?.Outcome, window.Trigger?.Reason);
        if (window.Raise)
        {
            await RaiseAsync(bus, windowId, window, ct);
        }
    }

    private void Measure(WindowReport window)
    {
        var modelId = window.ModelId;
        DriftMetrics.Windows.WithLabels(modelId, window.Status == WindowStatus.Error ? "error" : window.DatasetDrift ? "drifted" : "clean").Inc();
        DriftMetrics.ShareDrifted.WithLabels(modelId).Set(window.ShareDrifted);
        DriftMetrics.DatasetDriftScore.WithLabels(modelId).Set(window.DatasetDriftScore);
        if (window.Trigger is { } trigger)
        {
            DriftMetrics.Decisions.WithLabels(modelId, trigger.Outcome).Inc();
        }

        if (window.Performance is { EstimatedAccuracy: { } estimated, EstimatedDrop: { } drop })
        {
            DriftMetrics.EstimatedAccuracy.WithLabels(modelId).Set(estimated);
            DriftMetrics.EstimatedAccuracyDrop.WithLabels(modelId).Set(drop);
        }

        DriftMetrics.RecordWindow(modelId, window.ModelVersion, window, options.Value.MetricsTopFeatures);
    }

    /// <summary>
    /// The run's owner starts the run (or not, when the model has one); the monitor holds further raises
    /// until it hears AdaptationRunFinished for this run.
    /// </summary>
    private async Task RaiseAsync(IPublishEndpoint bus, string windowId, WindowReport window, CancellationToken ct)
    {
        var runId = NewId.NextGuid();
        DriftMetrics.RunsStarted.WithLabels(window.ModelId, "drift").Inc();
        var lastClean = (await drift.ListReportsAsync(window.ModelId, 200, ct))
            .Where(r => r.ModelVersion == window.ModelVersion && !r.DatasetDrift)
            .MaxBy(r => r.CreatedAt);
        await bus.Publish(new DriftDetected
        {
            DriftStartedAt = lastClean?.CreatedAt,
            RunId = runId, ModelId = window.ModelId, ModelVersion = window.ModelVersion, WindowId = windowId,
            Severity = ToContract(window.Severity),
            DatasetDriftScore = Math.Clamp(window.DatasetDriftScore, 0, 1),
            TopFeatures = window.Features
                .Where(f => f.PValue is not null)
                .OrderBy(f => f.PValue)
                .Take(5)
                .Select(Score)
                .ToList(),
            DriftedFeatures = window.Features.Where(f => f.Drifted && f.PValue is not null).Select(Score).ToList(),
        }, ct);
    }

    private static FeatureDriftScore Score(FeatureScore f) => new()
    {
        Name = f.Name, Test = f.Kind == "categorical" ? "chi2" : "ks",
        Statistic = f.KsStatistic ?? f.ChiSquared ?? 0, PValue = Math.Clamp(f.PValue!.Value, 0, 1), Psi = f.Psi, Drifted = f.Drifted,
    };

    /// <summary>Every evaluated window is announced, with the batch segments whose rows were new in it.</summary>
    private static DriftWindowEvaluated Evaluated(string windowId, WindowReport window) => new()
    {
        ModelId = window.ModelId, ModelVersion = window.ModelVersion, WindowId = windowId, Rows = window.Rows,
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

    /// <summary>The monitor's severity as the message carries it (the two enums are kept apart: library and contract).</summary>
    private static Contracts.DriftSeverity ToContract(Drift.Monitoring.DriftSeverity severity) => severity switch
    {
        Drift.Monitoring.DriftSeverity.None => Contracts.DriftSeverity.None,
        Drift.Monitoring.DriftSeverity.Low => Contracts.DriftSeverity.Low,
        Drift.Monitoring.DriftSeverity.Medium => Contracts.DriftSeverity.Medium,
        Drift.Monitoring.DriftSeverity.High => Contracts.DriftSeverity.High,
        _ => throw new ArgumentOutOfRangeException(nameof(severity), severity, "unknown drift severity"),
    };
}
