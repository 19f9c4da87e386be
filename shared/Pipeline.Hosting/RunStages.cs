using MassTransit;
using Microsoft.Extensions.Logging;
using Pipeline.Storage.Repositories;

namespace Pipeline.Hosting;

/// <summary>How a stage's consumer takes an adaptation run into its stage.</summary>
public static class RunStages
{
    /// <summary>
    /// Moves the run from <paramref name="from"/> to <paramref name="to"/>. Returns the run when this
    /// consumer should do the stage's work: it made the transition, or it is a retry of the same
    /// consumer and the run is already in <paramref name="to"/>. Returns null for a duplicate or late
    /// message (the run is elsewhere). An unknown run, or one of another model, is a rejected command.
    /// </summary>
    public static async Task<AdaptationRun?> ClaimAsync(
        IAdaptationRunRepository runs, ConsumeContext context, ILogger logger, Guid runId, string modelId,
        RunState from, RunState to, RunUpdate? update, string detail, CancellationToken ct)
    {
        var run = await runs.GetAsync(runId, ct);
        if (run is null || run.ModelId != modelId)
        {
            throw new CommandRejectedException($"run {runId} of {modelId} is unknown");
        }

        if (run.State == to && context.GetRetryAttempt() > 0)
        {
            return run;
        }

        if (await runs.TryTransitionAsync(runId, from, to, update, detail, ct))
        {
            return run;
        }

        logger.LogInformation("Run {RunId} is {State}, not {Expected}: ignored as a duplicate or late message", runId, run.State, from);
        return null;
    }
}
