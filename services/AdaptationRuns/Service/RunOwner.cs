using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pipeline.Contracts;
using Pipeline.Drift.Tournament;
using Pipeline.Hosting;
using Pipeline.Storage.Repositories;
using ApprovalMode = Pipeline.Contracts.ApprovalMode;

namespace Pipeline.AdaptationRuns;

/// <summary>
/// Who moves an adaptation run, and when. This class is the only writer of a run; stage services
/// are workers that get a command and answer with an event.
///
/// <code>
///  state             entered on (input)                        sends / publishes                       timer (due → action)
///  Scoring           DriftDetected, StartAdaptation (operator) ScoreSensitivity, AdaptationRunStarted  no result → re-send, fail after MaxAttempts
///  Tuning            SensitivityScored                         TrainCandidate ×N (one per entrant)     same (pending ones only); TuningProgress re-arms it
///  Evaluating        CandidateTrained (the last of N),         EvaluateCandidate ×(trained)            same (pending ones only); spent with ≥ 1 result → decide
///                    or a timeout / failure with ≥ 1 trained
///  AwaitingApproval  CandidateEvaluated (the last; ask)        ApprovalRequested                       ApprovalTimeout → Rejected (expired)
///  Deploying         CandidateEvaluated (the last; approve),   CandidateApproved, DeployCandidate      same as Scoring
///                    ApproveCandidate (approver)
///  Deployed          ModelDeployed of this run                 AdaptationRunFinished
///  Rejected          CandidateEvaluated (reject),              CandidateRejected, AdaptationRunFinished
///                    RejectCandidate (approver), expiry
///  Failed            AdaptationStageFailed, attempts spent     AdaptationRunFailed, AdaptationRunFinished
///                    (a tournament: when no candidate is left)
/// </code>
///
/// N is Tuning:Candidates. With N = 1 the run trains one candidate with the tuner's Tuning:Strategy. With
/// N &gt; 1 it is a tournament (RunOwner.Tournament.cs): the policy picks the entrants, each result is recorded in
/// run_candidates while the run stays in its stage (a failed or timed-out candidate drops out), the run moves on when
/// the last is in, and the best candidate the gate passed, by the tournament score, is the run's candidate.
///
/// Every move is one transaction (<see cref="IRunStepStore"/>): the optimistic transition, its history
/// row, the messages it causes (outbox, relayed after commit) and the run's next timer. An input that
/// finds the run elsewhere (a redelivery, a result of re-sent work, a late reply) changes nothing.
/// The run carries its base version: the gate measures against it and the deployment refuses to
/// replace any other production version.
/// </summary>
public sealed partial class RunOwner(
    IAdaptationRunRepository runs, IRunStepStore steps, IModelRegistry registry, OutboxSignal relay,
    IOptions<RunOwnerOptions> options, TimeProvider time, ILogger<RunOwner> logger,
    ITournamentStore tournaments, IOptions<TournamentOptions> tournament, IOptions<TournamentPolicyOptions> policy,
    StrategyEvidence evidence)
{
    public const string GateUser = "evaluation-gate";

    /// <summary>
    /// Drift raised on <paramref name="version"/> traffic, or an operator's StartAdaptation (version null: production now).
    /// False when the model already has an active run (its end is announced as usual).
    /// </summary>
    /// <exception cref="StaleDriftException">drift was seen on a version that is no longer in production.</exception>
    public async Task<bool> StartAsync(Guid runId, string modelId, int? version, string triggeredBy, string detail,
        DateTimeOffset? driftStartedAt, CancellationToken ct, ShiftSignature? shift = null)
    {
        var production = (await registry.GetProductionAsync(modelId, ct))?.Version
            ?? throw new CommandRejectedException($"model {modelId} is unknown or has no production version");
        if (version is { } seen && seen != production)
        {
            throw new StaleDriftException($"drift was seen on {modelId} v{seen}, but production is v{production} now");
        }

        var work = new ScoreSensitivity { RunId = runId, ModelId = modelId, BaseVersion = production, DriftStartedAt = driftStartedAt };
        RunLifecycle.EnsureAllowed(RunState.Detected, RunState.Scoring);
        var started = await steps.TryStartAsync(
            new NewAdaptationRun { RunId = runId, ModelId = modelId, BaseVersion = production, Detail = detail },
            new RunStep
            {
                RunId = runId, Expected = RunState.Detected, Next = RunState.Scoring, Detail = "scoring sensitivity",
                Messages = [RunMessages.Of(work), RunMessages.Of(new AdaptationRunStarted
                {
                    RunId = runId, ModelId = modelId, BaseVersion = production, TriggeredBy = triggeredBy,
                })],
                Timer = WorkTimer(runId, RunState.Scoring, RunMessages.Of(work)),
                Tournament = IsTournament ? NewTournament(runId, modelId, shift) : null,
            }, ct);
        if (started)
        {
            logger.LogInformation("Run {RunId} of {ModelId} v{Version} started ({Detail})", runId, modelId, production, detail);
            relay.Notify();
        }
        else
        {
            logger.LogInformation("Run {RunId} of {ModelId} not started: the model has an active run (or this run exists)", runId, modelId);
        }

        return started;
    }

    public async Task OnScoredAsync(SensitivityScored m, CancellationToken ct)
    {
        var run = await RunOfAsync(m, ct);
        if (IsTournament)
        {
            await OnScoredTournamentAsync(run, m, ct);
            return;
        }

        var work = new TrainCandidate
        {
            RunId = m.RunId, ModelId = m.ModelId, BaseVersion = run.BaseVersion, MaskUri = m.MaskUri, Sha256 = m.Sha256,
            SelectedFraction = m.SelectedFraction, AdaptationSetId = m.AdaptationSetId, AdaptationSet = m.AdaptationSet,
            ShiftedHoldout = m.ShiftedHoldout,
        };
        await MoveAsync(run, new RunStep
        {
            RunId = m.RunId, Expected = RunState.Scoring, Next = RunState.Tuning, Detail = $"mask selects {m.SelectedFraction:P2}",
            Messages = [RunMessages.Of(work)], Timer = WorkTimer(m.RunId, RunState.Tuning, RunMessages.Of(work)),
        }, ct);
    }

    /// <summary>A tuner that reports progress is alive: its no-progress timeout starts again.</summary>
    public async Task OnProgressAsync(TuningProgress m, CancellationToken ct)
    {
        if (await steps.GetTimerAsync(m.RunId, ct) is { State: RunState.Tuning } timer)
        {
            await steps.TryRearmAsync(m.RunId, RunState.Tuning, timer.Attempt, timer.Attempt,
                time.GetUtcNow() + options.Value.NoProgressTimeout(RunState.Tuning), [], ct);
        }
    }

    public async Task OnTrainedAsync(CandidateTrained m, CancellationToken ct)
    {
        var run = await RunOfAsync(m, ct);
        if (await CandidatesOfAsync(run, ct) is { Count: > 0 } entrants)
        {
            await OnCandidateTrainedAsync(run, entrants, m, ct);
            return;
        }

        if (run.CandidateVersion is { } known && known != m.CandidateVersion)
        {
            logger.LogWarning("Run {RunId} already has candidate v{Known}; v{Other} is ignored", m.RunId, known, m.CandidateVersion);
            return;
        }

        var work = new EvaluateCandidate
        {
            RunId = m.RunId, ModelId = m.ModelId, BaseVersion = run.BaseVersion, CandidateVersion = m.CandidateVersion,
            ShiftedHoldout = m.ShiftedHoldout, Strategy = m.Strategy,
        };
        await MoveAsync(run, new RunStep
        {
            RunId = m.RunId, Expected = RunState.Tuning, Next = RunState.Evaluating, Detail = $"candidate v{m.CandidateVersion} ({m.Strategy})",
            Update = new RunUpdate { CandidateVersion = m.CandidateVersion, Strategy = m.Strategy },
            Messages = [RunMessages.Of(work)], Timer = WorkTimer(m.RunId, RunState.Evaluating, RunMessages.Of(work)),
        }, ct);
    }

    public async Task OnEvaluatedAsync(CandidateEvaluated m, CancellationToken ct)
    {
        var run = await RunOfAsync(m, ct);
        if (await CandidatesOfAsync(run, ct) is { Count: > 0 } entrants)
        {
            await OnCandidateEvaluatedAsync(run, entrants, m, ct);
            return;
        }

        if (run.CandidateVersion != m.CandidateVersion)
        {
            logger.LogWarning("Run {RunId}: evaluation of v{Other} ignored, the run's candidate is v{Known}", m.RunId, m.CandidateVersion, run.CandidateVersion);
            return;
        }

        await MoveAsync(run, GateStep(run, m.CandidateVersion, m.Decision, m.Reasons), ct);
    }

    /// <summary>The gate's decision on the run's candidate: deploy, reject, or ask an approver.</summary>
    private RunStep GateStep(AdaptationRun run, int candidate, GateDecision decision, IReadOnlyList<string> reasons) => decision switch
    {
        GateDecision.Approve => Approve(run, candidate, GateUser, ApprovalMode.Auto, reasons, RunState.Evaluating),
        GateDecision.Reject => Reject(run, candidate, GateUser, ApprovalMode.Auto, reasons, RunState.Evaluating),
        _ => new RunStep
        {
            RunId = run.RunId, Expected = RunState.Evaluating, Next = RunState.AwaitingApproval, Detail = string.Join("; ", reasons),
            Messages = [RunMessages.Of(new ApprovalRequested
            {
                RunId = run.RunId, ModelId = run.ModelId, CandidateVersion = candidate, Reasons = reasons,
                ExpiresAt = time.GetUtcNow() + options.Value.ApprovalTimeout,
            })],
            Timer = new RunTimer { RunId = run.RunId, State = RunState.AwaitingApproval, DueAt = time.GetUtcNow() + options.Value.ApprovalTimeout },
        },
    };

    /// <summary>An approver's ApproveCandidate or RejectCandidate (the caller checked the role). Returns the run as it was decided.</summary>
    public async Task<AdaptationRun> DecideAsync(Guid runId, string? modelId, string user, string reason, bool approve, CancellationToken ct)
    {
        var run = await runs.GetAsync(runId, ct) ?? throw new CommandRejectedException($"run {runId} is unknown");
        if (modelId is not null && modelId != run.ModelId)
        {
            throw new CommandRejectedException($"run {runId} belongs to {run.ModelId}, not {modelId}");
        }

        if (run.State != RunState.AwaitingApproval)
        {
            throw new CommandRejectedException($"run {runId} is {run.State}, not awaiting approval");
        }

        var candidate = run.CandidateVersion!.Value;
        var step = approve
            ? Approve(run, candidate, user, ApprovalMode.Manual, [reason], RunState.AwaitingApproval)
            : Reject(run, candidate, user, ApprovalMode.Manual, [reason], RunState.AwaitingApproval);
        if (!await TryMoveAsync(run, step, ct))
        {
            throw new CommandRejectedException($"run {runId} was decided concurrently");
        }

        return run;
    }

    public async Task OnDeployedAsync(ModelDeployed m, CancellationToken ct)
    {
        if (m.RunId is not { } runId)
        {
            return;
        }

        var run = await runs.GetAsync(runId, ct) ?? throw new CommandRejectedException($"run {runId} is unknown");
        await MoveAsync(run, Finish(run, RunState.Deploying, RunState.Deployed, RunOutcome.Deployed, null,
            $"v{m.Version} in production (was v{m.PreviousVersion})"), ct);
    }

    /// <summary>A worker says its stage cannot be done; a report about a stage the run has left is late and ignored.</summary>
    public async Task OnStageFailedAsync(AdaptationStageFailed m, CancellationToken ct)
    {
        var run = await RunOfAsync(m, ct);
        if (RunLifecycle.StageOf(run.State) != m.Stage)
        {
            logger.LogInformation("Run {RunId} is {State}; a failure report of {Stage} is late and ignored", m.RunId, run.State, m.Stage);
            return;
        }

        if (CandidateId.Of(m.Candidate) is { } candidate && await CandidatesOfAsync(run, ct) is { Count: > 0 } entrants)
        {
            await OnCandidateFailedAsync(run, entrants, candidate, m.Reason, ct);
            return;
        }

        await MoveAsync(run, Fail(run, m.Stage, m.Reason), ct);
    }

    /// <summary>A stage is due: an approval expires, lost work is sent again, or the run fails when its attempts are spent.</summary>
    public async Task OnTimerAsync(RunTimer timer, CancellationToken ct)
    {
        var run = await runs.GetAsync(timer.RunId, ct);
        if (run is null || run.State != timer.State)
        {
            return;
        }

        var o = options.Value;
        if (run.State == RunState.AwaitingApproval)
        {
            await MoveAsync(run, Reject(run, run.CandidateVersion!.Value, GateUser, ApprovalMode.Expired,
                [$"approval expired: nobody decided within {o.ApprovalTimeout}"], RunState.AwaitingApproval), ct);
            return;
        }

        if (await CandidatesOfAsync(run, ct) is { Count: > 0 } entrants)
        {
            await OnTournamentTimerAsync(run, entrants, timer, ct);
            return;
        }

        var timeout = o.NoProgressTimeout(run.State);
        if (timer.Attempt < o.MaxAttempts && timer.WorkType is { } type && timer.WorkBody is { } body)
        {
            var next = timer.Attempt + 1;
            logger.LogWarning("Run {RunId} of {ModelId}: no progress in {State} for {Timeout}; sending the work again (attempt {Attempt} of {Max})",
                run.RunId, run.ModelId, run.State, timeout, next, o.MaxAttempts);
            if (await steps.TryRearmAsync(run.RunId, run.State, timer.Attempt, next, time.GetUtcNow() + timeout, [RunMessages.Again(type, body, next)], ct))
            {
                relay.Notify();
            }

            return;
        }

        await MoveAsync(run, Fail(run, RunLifecycle.StageOf(run.State)!.Value,
            $"no progress in {run.State} for {timeout} after {timer.Attempt} attempt(s)"), ct);
    }

    private RunStep Approve(AdaptationRun run, int candidate, string by, ApprovalMode mode, IReadOnlyList<string> reasons, RunState from)
    {
        var work = new DeployCandidate
        {
            RunId = run.RunId, ModelId = run.ModelId, BaseVersion = run.BaseVersion, CandidateVersion = candidate, By = by, Mode = mode,
        };
        return new RunStep
        {
            RunId = run.RunId, Expected = from, Next = RunState.Deploying, Detail = $"approved by {by} ({mode}): {string.Join("; ", reasons)}",
            Approval = Audit(run, mode == ApprovalMode.Auto ? ApprovalDecision.Auto : ApprovalDecision.Approve, by, mode, reasons),
            Messages =
            [
                RunMessages.Of(new CandidateApproved { RunId = run.RunId, ModelId = run.ModelId, CandidateVersion = candidate, By = by, Mode = mode, Reasons = reasons }),
                RunMessages.Of(work),
            ],
            Timer = WorkTimer(run.RunId, RunState.Deploying, RunMessages.Of(work)),
        };
    }

    private static RunStep Reject(AdaptationRun run, int candidate, string by, ApprovalMode mode, IReadOnlyList<string> reasons, RunState from)
    {
        var summary = $"rejected by {by} ({mode}): {string.Join("; ", reasons)}";
        var step = Finish(run with { CandidateVersion = candidate }, from, RunState.Rejected, RunOutcome.Rejected, null, summary);
        return step with
        {
            Approval = Audit(run, mode == ApprovalMode.Expired ? ApprovalDecision.Expired : ApprovalDecision.Reject, by, mode, reasons),
            Messages = [RunMessages.Of(new CandidateRejected
            {
                RunId = run.RunId, ModelId = run.ModelId, CandidateVersion = candidate, By = by, Mode = mode, Reasons = reasons,
            }), .. step.Messages],
        };
    }

    private static RunStep Fail(AdaptationRun run, RunStage failed, string reason)
    {
        var stage = failed.Name();
        var step = Finish(run, run.State, RunState.Failed, RunOutcome.Failed, stage, reason);
        return step with
        {
            Update = new RunUpdate { FailureStage = stage, FailureReason = reason },
            Detail = $"{stage}: {reason}",
            Messages = [RunMessages.Of(new AdaptationRunFailed { RunId = run.RunId, ModelId = run.ModelId, Stage = stage, Reason = reason }), .. step.Messages],
        };
    }

    private static RunStep Finish(AdaptationRun run, RunState from, RunState to, RunOutcome outcome, string? stage, string reason) => new()
    {
        RunId = run.RunId, Expected = from, Next = to, Detail = reason,
        Messages = [RunMessages.Of(new AdaptationRunFinished
        {
            RunId = run.RunId, ModelId = run.ModelId, BaseVersion = run.BaseVersion, Outcome = outcome,
            CandidateVersion = run.CandidateVersion, Stage = stage, Reason = reason,
        })],
    };

    private static ApprovalRecord Audit(AdaptationRun run, ApprovalDecision decision, string by, ApprovalMode mode, IReadOnlyList<string> reasons) => new()
    {
        RunId = run.RunId, Decision = decision, DecidedBy = by,
        Mode = mode == ApprovalMode.Manual ? ApprovalSource.Manual : ApprovalSource.Auto,
        Reason = string.Join("; ", reasons),
    };

    private RunTimer WorkTimer(Guid runId, RunState stage, OutgoingMessage work) => new()
    {
        RunId = runId, State = stage, Attempt = 1, DueAt = time.GetUtcNow() + options.Value.NoProgressTimeout(stage),
        WorkType = work.MessageType, WorkBody = work.Body,
    };

    private async Task<AdaptationRun> RunOfAsync(IRunMessage m, CancellationToken ct)
    {
        var run = await runs.GetAsync(m.RunId, ct);
        return run is not null && run.ModelId == m.ModelId
            ? run
            : throw new CommandRejectedException($"run {m.RunId} of {m.ModelId} is unknown");
    }

    private async Task MoveAsync(AdaptationRun run, RunStep step, CancellationToken ct)
    {
        if (!await TryMoveAsync(run, step, ct))
        {
            logger.LogInformation("Run {RunId} is not {Expected} (now {State}): {Next} ignored as a duplicate or late input",
                run.RunId, step.Expected, run.State, step.Next);
        }
    }

    private async Task<bool> TryMoveAsync(AdaptationRun run, RunStep step, CancellationToken ct)
    {
        RunLifecycle.EnsureAllowed(step.Expected, step.Next);
        if (run.State != step.Expected || !await steps.TryStepAsync(step, ct))
        {
            return false;
        }

        logger.LogInformation("Run {RunId} of {ModelId}: {From} → {To} ({Detail})", run.RunId, run.ModelId, step.Expected, step.Next, step.Detail);
        if (RunLifecycle.IsTerminal(step.Next))
        {
            PipelineMetrics.RunsFinished.WithLabels(run.ModelId, step.Next.ToString().ToLowerInvariant()).Inc();
        }

        relay.Notify();
        return true;
    }
}

public sealed class StaleDriftException(string message) : Exception(message);
