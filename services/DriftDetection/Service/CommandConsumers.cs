using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pipeline.Contracts;
using Pipeline.Hosting;
using Pipeline.Storage.Repositories;

namespace Pipeline.DriftDetection;

/// <summary>LabelsObserved → labels attached to their observation batch (the adaptation set's source).</summary>
public sealed class LabelsObservedConsumer(
    IObservationRepository observations, MonitorRegistry monitors, IOptions<DriftDetectionOptions> options, TimeProvider time,
    ILogger<LabelsObservedConsumer> logger)
    : IConsumer<LabelsObserved>
{
    public async Task Consume(ConsumeContext<LabelsObserved> context)
    {
        var m = context.Message;
        var ct = context.CancellationToken;
        // Labels travel on their own queue and can overtake their batch: wait for it a little.
        var deadline = time.GetUtcNow() + options.Value.LabelsWaitForBatch;
        var batch = await observations.GetBatchAsync(m.ModelId, m.BatchId.ToString(), ct);
        while (batch is null && time.GetUtcNow() < deadline)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(100), time, ct);
            batch = await observations.GetBatchAsync(m.ModelId, m.BatchId.ToString(), ct);
        }

        if (batch is null)
        {
            // Still unknown: the retry policy (and redelivery, when configured) tries again later.
            throw new BatchNotYetSeenException($"batch {m.BatchId} of {m.ModelId} has not been ingested (yet)");
        }

        if (batch.RowCount != m.Labels.Count)
        {
            throw new CommandRejectedException($"batch {m.BatchId} has {batch.RowCount} rows but {m.Labels.Count} labels were sent");
        }

        await observations.SetLabelsAsync(m.ModelId, m.BatchId.ToString(), m.Labels, ct);
        logger.LogDebug("Labels for batch {BatchId} ({Count} rows) stored", m.BatchId, m.Labels.Count);
        if (batch.Labels is null)
        {
            // First labels of this batch (labels sent with the batch were counted when it was ingested).
            // The monitor is thread-safe: no model lock, so feedback never queues behind a window's evaluation.
            var (labelled, correct) = Feedback.Score(batch.Predictions, m.Labels);
            monitors.RecordFeedback(m.ModelId, batch.ModelVersion, labelled, correct);
        }
    }
}

internal static class Feedback
{
    /// <summary>Labelled rows (label ≥ 0) and how many of them the prediction got right.</summary>
    public static (int Labelled, int Correct) Score(IReadOnlyList<int> predictions, IReadOnlyList<int> labels)
    {
        int labelled = 0, correct = 0;
        for (var i = 0; i < Math.Min(predictions.Count, labels.Count); i++)
        {
            if (labels[i] < 0)
            {
                continue;
            }

            labelled++;
            correct += labels[i] == predictions[i] ? 1 : 0;
        }

        return (labelled, correct);
    }
}

public sealed class BatchNotYetSeenException(string message) : Exception(message);

/// <summary>PauseAdaptation → windows are still evaluated and reported, but no run starts.</summary>
public sealed class PauseAdaptationConsumer(IAdaptationPauseRepository pauses, ILogger<PauseAdaptationConsumer> logger)
    : IConsumer<PauseAdaptation>
{
    public async Task Consume(ConsumeContext<PauseAdaptation> context)
    {
        var by = OperatorIdentity.Of(context) ?? "unknown";
        await pauses.SetAsync(context.Message.ModelId, true, by, context.Message.Reason, context.CancellationToken);
        logger.LogInformation("Adaptation of {ModelId} paused by {By}: {Reason}", context.Message.ModelId, by, context.Message.Reason);
    }
}

/// <summary>ResumeAdaptation → drift may start runs again.</summary>
public sealed class ResumeAdaptationConsumer(IAdaptationPauseRepository pauses, ILogger<ResumeAdaptationConsumer> logger)
    : IConsumer<ResumeAdaptation>
{
    public async Task Consume(ConsumeContext<ResumeAdaptation> context)
    {
        var by = OperatorIdentity.Of(context) ?? "unknown";
        await pauses.SetAsync(context.Message.ModelId, false, by, context.Message.Reason, context.CancellationToken);
        logger.LogInformation("Adaptation of {ModelId} resumed by {By}: {Reason}", context.Message.ModelId, by, context.Message.Reason);
    }
}

/// <summary>StartAdaptation → a run on the production version now, without waiting for drift.</summary>
public sealed class StartAdaptationConsumer(
    IModelRegistry registry, IAdaptationRunRepository runs, MonitorRegistry monitors, ILogger<StartAdaptationConsumer> logger)
    : IConsumer<StartAdaptation>
{
    public async Task Consume(ConsumeContext<StartAdaptation> context)
    {
        var m = context.Message;
        var ct = context.CancellationToken;
        var by = OperatorIdentity.Of(context) ?? "unknown";
        var production = await registry.GetProductionAsync(m.ModelId, ct)
            ?? throw new CommandRejectedException($"{m.ModelId} has no production version to adapt");
        using var modelLock = await monitors.LockAsync(m.ModelId, ct);
        var runId = Guid.NewGuid();
        if (!await runs.TryStartRunAsync(new NewAdaptationRun
            {
                RunId = runId, ModelId = m.ModelId, BaseVersion = production.Version, Detail = $"started by {by}: {m.Reason}",
            }, ct))
        {
            throw new CommandRejectedException($"{m.ModelId} already has an active adaptation run");
        }

        DriftMetrics.RunsStarted.WithLabels(m.ModelId, "operator").Inc();
        logger.LogInformation("Run {RunId} of {ModelId} v{Version} started by {By}: {Reason}", runId, m.ModelId, production.Version, by, m.Reason);
        await context.Publish(new DriftDetected
        {
            RunId = runId, ModelId = m.ModelId, ModelVersion = production.Version, WindowId = "operator",
            Severity = DriftSeverity.None, DatasetDriftScore = 0, TriggeredBy = by,
        }, ct);
    }
}

/// <summary>ModelVersionRegistered → its drift reference profile is built now, not on the first traffic.</summary>
public sealed class ModelVersionRegisteredConsumer(MonitorRegistry monitors, ILogger<ModelVersionRegisteredConsumer> logger)
    : IConsumer<ModelVersionRegistered>
{
    public async Task Consume(ConsumeContext<ModelVersionRegistered> context)
    {
        var m = context.Message;
        try
        {
            await monitors.EnsureProfileAsync(m.ModelId, m.Version, context.CancellationToken);
        }
        catch (InvalidDataException ex)
        {
            logger.LogWarning("No drift profile for {ModelId} v{Version}: {Reason}", m.ModelId, m.Version, ex.Message);
        }
    }
}
