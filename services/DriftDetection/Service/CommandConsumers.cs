using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pipeline.Adaptation;
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
            DriftMetrics.RecordLabels(m.ModelId, batch.ModelVersion, batch.Predictions, m.Labels);
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

/// <summary>PauseAdaptation (an operator) → windows are still evaluated and reported, but no run starts.</summary>
public sealed class PauseAdaptationConsumer(
    IModelRegistry registry, IAdaptationPauseRepository pauses, IOptions<RoleOptions> roles, ILogger<PauseAdaptationConsumer> logger)
    : IConsumer<PauseAdaptation>
{
    public Task Consume(ConsumeContext<PauseAdaptation> context) =>
        PauseCommand.HandleAsync(context, context.Message.ModelId, context.Message.Reason, paused: true, registry, pauses, roles.Value, logger);
}

/// <summary>ResumeAdaptation (an operator) → drift may start runs again.</summary>
public sealed class ResumeAdaptationConsumer(
    IModelRegistry registry, IAdaptationPauseRepository pauses, IOptions<RoleOptions> roles, ILogger<ResumeAdaptationConsumer> logger)
    : IConsumer<ResumeAdaptation>
{
    public Task Consume(ConsumeContext<ResumeAdaptation> context) =>
        PauseCommand.HandleAsync(context, context.Message.ModelId, context.Message.Reason, paused: false, registry, pauses, roles.Value, logger);
}

/// <summary>
/// Pause and resume: an operator's command, stored (every replica reads the pause from storage before each
/// batch, so it needs no routing to the replica that owns the model).
/// </summary>
internal static class PauseCommand
{
    public static Task HandleAsync<T>(
        ConsumeContext<T> context, string modelId, string reason, bool paused, IModelRegistry registry, IAdaptationPauseRepository pauses,
        RoleOptions roles, ILogger logger)
        where T : class =>
        OperatorCommand.HandleAsync(context, roles, OperatorRole.Operator, logger, async by =>
        {
            _ = await registry.GetModelAsync(modelId, context.CancellationToken) ?? throw new CommandRejectedException($"model {modelId} is unknown");
            await pauses.SetAsync(modelId, paused, by, reason, context.CancellationToken);
            var verb = paused ? "paused" : "resumed";
            logger.LogInformation("Adaptation of {ModelId} {Verb} by {By}: {Reason}", modelId, verb, by, reason);
            return paused
                ? $"adaptation of {modelId} paused: drift is still reported, no run starts"
                : $"adaptation of {modelId} resumed: drift may start runs again";
        });
}

/// <summary>AdaptationRunStarted → the model's monitor holds raises while the run is in flight.</summary>
public sealed class AdaptationRunStartedConsumer(MonitorRegistry monitors) : IConsumer<AdaptationRunStarted>
{
    public Task Consume(ConsumeContext<AdaptationRunStarted> context)
    {
        monitors.RunStarted(context.Message.ModelId);
        if (context.Message.TriggeredBy != "drift")
        {
            DriftMetrics.RunsStarted.WithLabels(context.Message.ModelId, "operator").Inc();
        }

        return Task.CompletedTask;
    }
}

/// <summary>AdaptationRunFinished → deployed or rejected: cooldown; failed: drift may raise again at once.</summary>
public sealed class AdaptationRunFinishedConsumer(MonitorRegistry monitors) : IConsumer<AdaptationRunFinished>
{
    public Task Consume(ConsumeContext<AdaptationRunFinished> context)
    {
        monitors.RunFinished(context.Message.ModelId, context.Message.Outcome != RunOutcome.Failed);
        return Task.CompletedTask;
    }
}

/// <summary>ModelVersionRegistered → its drift reference profile is built now, not on the first traffic.</summary>
public sealed class ModelVersionRegisteredConsumer(ReferenceProfiles profiles, ILogger<ModelVersionRegisteredConsumer> logger)
    : IConsumer<ModelVersionRegistered>
{
    public async Task Consume(ConsumeContext<ModelVersionRegistered> context)
    {
        var m = context.Message;
        try
        {
            await profiles.EnsureProfileAsync(m.ModelId, m.Version, context.CancellationToken);
        }
        catch (ModelNotFoundException ex)
        {
            throw new CommandRejectedException(ex.Message);
        }
        catch (InvalidDataException ex)
        {
            logger.LogWarning("No drift profile for {ModelId} v{Version}: {Reason}", m.ModelId, m.Version, ex.Message);
        }
    }
}
