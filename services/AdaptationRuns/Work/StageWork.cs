using MassTransit;
using Microsoft.Extensions.Logging;
using Pipeline.Contracts;

namespace Pipeline.AdaptationRuns;

/// <summary>What every stage worker does around its one library call: ask whether the work is wanted, and report a failure retrying will not fix.</summary>
public sealed class StageWork(RunWorkQuery query, ILogger<StageWork> logger)
{
    /// <summary>
    /// The worker's preamble, written once: work the run no longer wants is skipped; a failure
    /// <paramref name="known"/> says retrying will not fix becomes AdaptationStageFailed, with the candidate in a tournament.
    /// </summary>
    /// <param name="candidate">Deployment: the candidate version the run must be deploying.</param>
    /// <param name="describe">The failure's reason (default: the exception's message).</param>
    /// <param name="failed">In a tournament, the candidate whose work failed (the others go on).</param>
    public async Task DoAsync(ConsumeContext context, IRunMessage work, RunStage stage, int attempt, Func<Task> job, Func<Exception, bool> known,
        int? candidate = null, Func<Exception, string>? describe = null, string? failed = null)
    {
        var (wanted, state) = await query.IsWantedAsync(work, stage, candidate, context.CancellationToken);
        if (!wanted)
        {
            logger.LogInformation("Run {RunId} is {State}; {Work} attempt {Attempt} skipped", work.RunId, state, work.GetType().Name, attempt);
            return;
        }

        try
        {
            await job();
        }
        catch (Exception ex) when (known(ex))
        {
            await FailAsync(context, work, stage, describe?.Invoke(ex) ?? ex.Message, failed);
        }
    }

    /// <summary>Work that cannot be done: the run's owner decides what happens to the run.</summary>
    /// <param name="candidate">In a tournament, the candidate whose work failed (the others go on).</param>
    public Task FailAsync(ConsumeContext context, IRunMessage work, RunStage stage, string reason, string? candidate = null)
    {
        logger.LogWarning("Run {RunId} of {ModelId}: {Stage} cannot be done: {Reason}", work.RunId, work.ModelId, stage, reason);
        return context.Publish(new AdaptationStageFailed
        {
            RunId = work.RunId, ModelId = work.ModelId, Stage = stage, Reason = reason, Candidate = candidate,
        }, context.CancellationToken);
    }
}
