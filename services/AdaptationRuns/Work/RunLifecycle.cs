using Pipeline.Contracts;
using Pipeline.Storage.Repositories;

namespace Pipeline.AdaptationRuns;

/// <summary>
/// The run's one transition table. Storage persists a state by name and moves a row only from the state it
/// is told to expect; which moves exist is said here, and <see cref="RunOwner"/> checks every step against it.
/// </summary>
public static class RunLifecycle
{
    /// <summary>True for Deployed, Rejected and Failed.</summary>
    public static bool IsTerminal(RunState state) => state is RunState.Deployed or RunState.Rejected or RunState.Failed;

    /// <summary>
    /// Allowed transitions: Detected → Scoring → Tuning → Evaluating → (AwaitingApproval) →
    /// Deploying → Deployed; Evaluating/AwaitingApproval → Rejected; any non-terminal → Failed.
    /// </summary>
    public static bool CanTransition(RunState from, RunState to)
    {
        if (IsTerminal(from))
        {
            return false;
        }

        return to switch
        {
            RunState.Failed => true,
            RunState.Scoring => from == RunState.Detected,
            RunState.Tuning => from == RunState.Scoring,
            RunState.Evaluating => from == RunState.Tuning,
            RunState.AwaitingApproval => from == RunState.Evaluating,
            RunState.Deploying => from is RunState.Evaluating or RunState.AwaitingApproval,
            RunState.Rejected => from is RunState.Evaluating or RunState.AwaitingApproval,
            RunState.Deployed => from == RunState.Deploying,
            _ => false,
        };
    }

    /// <summary>The stage whose work the run waits for in <paramref name="state"/>; null where it waits for none.</summary>
    public static RunStage? StageOf(RunState state) => state switch
    {
        RunState.Scoring => RunStage.Score,
        RunState.Tuning => RunStage.Tune,
        RunState.Evaluating => RunStage.Evaluate,
        RunState.AwaitingApproval => RunStage.Approval,
        RunState.Deploying => RunStage.Deploy,
        _ => null,
    };

    /// <exception cref="InvalidOperationException">the table has no such move.</exception>
    public static void EnsureAllowed(RunState from, RunState to)
    {
        if (!CanTransition(from, to))
        {
            throw new InvalidOperationException($"Run transition {from} -> {to} is not allowed.");
        }
    }
}
