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
