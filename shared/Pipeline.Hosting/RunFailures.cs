using MassTransit;
using Microsoft.Extensions.Logging;
using Pipeline.Contracts;
using Pipeline.Storage.Repositories;

namespace Pipeline.Hosting;

/// <summary>Ends a run as Failed in the run table and tells everyone, with the stage and the reason.</summary>
public static class RunFailures
{
    public static async Task FailAsync(
        IAdaptationRunRepository runs, IPublishEndpoint publish, ILogger logger,
        Guid runId, string modelId, string stage, string reason, CancellationToken ct)
    {
        logger.LogWarning("Run {RunId} of {ModelId} failed in {Stage}: {Reason}", runId, modelId, stage, reason);
        if (await runs.TryFailAsync(runId, stage, reason, ct))
        {
            PipelineMetrics.RunsFinished.WithLabels(modelId, "failed").Inc();
            await publish.Publish(new AdaptationRunFailed { RunId = runId, ModelId = modelId, Stage = stage, Reason = reason }, ct);
        }
    }
}
