using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Pipeline.Contracts;
using Pipeline.Drift.Tournament;
using Pipeline.Storage.Repositories;
using ApprovalMode = Pipeline.Contracts.ApprovalMode;

namespace Pipeline.AdaptationRuns;

// The tournament half of the run owner (Tuning:Candidates > 1). Each candidate's result is written to run_candidates
// by RecordCandidateAsync, which locks the run's row while it is in the stage and returns every candidate as
// committed, so of two concurrent results the later one always sees both; the stage's move happens once (optimistic
// transition), in the same transaction as the candidate rows it settles.
public sealed partial class RunOwner
{
    private bool IsTournament => tournament.Value.Candidates > 1;

    private static TournamentEntry NewTournament(Guid runId, string modelId, ShiftSignature? shift) => new()
    {
        RunId = runId, ModelId = modelId, Severity = shift?.Severity, DriftScore = shift?.DriftScore,
        ShiftKind = (shift?.Kind ?? ShiftKind.Unknown).ToString(), MovedFeatures = shift is null ? null : string.Join(",", shift.Moved),
    };

    /// <summary>The run's entrant with this id, if it has one.</summary>
    private static CandidateEntry? Entrant(IReadOnlyList<CandidateEntry> entrants, CandidateId id) =>
        entrants.FirstOrDefault(c => new CandidateId(c.Strategy) == id);

    private async Task<IReadOnlyList<CandidateEntry>> CandidatesOfAsync(AdaptationRun run, CancellationToken ct) =>
        run.State is RunState.Tuning or RunState.Evaluating ? await tournaments.ListCandidatesAsync(run.RunId, ct) : [];

    /// <summary>The policy picks the entrants from the drift and the model's earlier tournaments; one TrainCandidate each.</summary>
    private async Task OnScoredTournamentAsync(AdaptationRun run, SensitivityScored m, CancellationToken ct)
    {
        var entry = await tournaments.GetAsync(run.RunId, ct) ?? NewTournament(run.RunId, run.ModelId, null);
        var kind = Enum.TryParse<ShiftKind>(entry.ShiftKind, out var k) ? k : ShiftKind.Unknown;
        var shift = new ShiftSignature(entry.Severity ?? "unknown", entry.DriftScore ?? 0, kind, Split(entry.MovedFeatures), m.LabelledRows);
        var o = policy.Value;
        var history = (await tournaments.ListDecidedAsync(run.ModelId, o.HistoryWindow, ct))
            .Where(t => t.RunId != run.RunId)
            .Select(t => new TournamentHistory(Enum.TryParse<ShiftKind>(t.ShiftKind, out var hk) ? hk : ShiftKind.Unknown, Split(t.Strategies), t.Winner))
            .ToList();
        var choice = StrategyPolicy.Choose(shift, history, tournament.Value.Candidates, o, evidence.Rows);
        var template = new TrainCandidate
        {
            RunId = m.RunId, ModelId = m.ModelId, BaseVersion = run.BaseVersion, MaskUri = m.MaskUri, Sha256 = m.Sha256,
            SelectedFraction = m.SelectedFraction, AdaptationSetId = m.AdaptationSetId, AdaptationSet = m.AdaptationSet,
            ShiftedHoldout = m.ShiftedHoldout, Strategy = choice.Strategies[0],
        };
        var works = choice.Strategies.Select(s => RunMessages.Of(template with { Strategy = s })).ToList();
        await MoveAsync(run, new RunStep
        {
            RunId = m.RunId, Expected = RunState.Scoring, Next = RunState.Tuning,
            Detail = $"mask selects {m.SelectedFraction:P2}; tournament of {string.Join(", ", choice.Strategies)} ({choice.Reason})",
            Messages = works, Timer = WorkTimer(m.RunId, RunState.Tuning, works[0]),
            Tournament = entry with { LabelRows = m.LabelledRows, Strategies = string.Join(",", choice.Strategies), PolicyReason = choice.Reason },
            Candidates = choice.Strategies.Select(s => new CandidateEntry { RunId = m.RunId, Strategy = s, State = CandidateState.Training }).ToList(),
        }, ct);
    }

    private async Task OnCandidateTrainedAsync(AdaptationRun run, IReadOnlyList<CandidateEntry> entrants, CandidateTrained m, CancellationToken ct)
    {
        if (Entrant(entrants, new CandidateId(m.Strategy)) is not { State: CandidateState.Training } entrant)
        {
            logger.LogInformation("Run {RunId}: {Strategy} v{Version} is not an awaited entrant; ignored", m.RunId, m.Strategy, m.CandidateVersion);
            return;
        }

        var all = await tournaments.RecordCandidateAsync(RunState.Tuning, entrant with
        {
            State = CandidateState.Trained, CandidateVersion = m.CandidateVersion, TrainSeconds = m.TrainSeconds,
        }, ct);
        if (all is not null && all.All(c => c.State != CandidateState.Training))
        {
            await MoveAsync(run, ToEvaluation(run, all, [], m.ShiftedHoldout), ct);
        }
    }

    private async Task OnCandidateEvaluatedAsync(AdaptationRun run, IReadOnlyList<CandidateEntry> entrants, CandidateEvaluated m, CancellationToken ct)
    {
        // Named by its id; an evaluation that names none (a gate that does not pass it on) by the version it measured.
        var named = CandidateId.Of(m.Strategy) is { } id ? Entrant(entrants, id) : entrants.FirstOrDefault(c => c.CandidateVersion == m.CandidateVersion);
        if (named is not { State: CandidateState.Trained } entrant || entrant.CandidateVersion != m.CandidateVersion)
        {
            logger.LogInformation("Run {RunId}: evaluation of {Candidate} v{Version} is not awaited; ignored", m.RunId, m.Strategy, m.CandidateVersion);
            return;
        }

        // Not judged (same compute as production): no latency cost in the score.
        var latency = !m.LatencyJudged || m.LatencyMsBefore <= 0 ? 0 : (m.LatencyMsAfter - m.LatencyMsBefore) / m.LatencyMsBefore;
        var all = await tournaments.RecordCandidateAsync(RunState.Evaluating, entrant with
        {
            State = CandidateState.Evaluated, Decision = m.Decision.ToString(), Gain = m.ShiftedAccuracyAfter - m.ShiftedAccuracyBefore,
            GainLower = m.GainInterval?.Lower, GainUpper = m.GainInterval?.Upper, Forgetting = m.Forgetting,
            ForgettingLower = m.ForgettingInterval?.Lower, ForgettingUpper = m.ForgettingInterval?.Upper, LatencyIncrease = latency,
            Reason = "gate: " + string.Join("; ", m.Reasons),
        }, ct);
        if (all is not null && all.All(c => c.State != CandidateState.Trained))
        {
            await MoveAsync(run, await DecideAsync(run, all, [], ct), ct);
        }
    }

    /// <summary>A worker could not train or evaluate one candidate: it drops out, the others go on.</summary>
    private async Task OnCandidateFailedAsync(AdaptationRun run, IReadOnlyList<CandidateEntry> entrants, CandidateId candidate, string reason, CancellationToken ct)
    {
        var pending = run.State == RunState.Tuning ? CandidateState.Training : CandidateState.Trained;
        if (Entrant(entrants, candidate) is not { } entrant || entrant.State != pending)
        {
            return;
        }

        var all = await tournaments.RecordCandidateAsync(run.State, entrant with { State = CandidateState.Failed, Reason = $"failed in {RunLifecycle.StageOf(run.State)?.Name()}: {reason}" }, ct);
        if (all is not null && all.All(c => c.State != pending))
        {
            await MoveAsync(run, run.State == RunState.Tuning ? ToEvaluation(run, all, [], await HoldoutAsync(run, ct)) : await DecideAsync(run, all, [], ct), ct);
        }
    }

    /// <summary>Pending work is sent again while attempts last; then the pending candidates drop out and the run goes on with the rest.</summary>
    private async Task OnTournamentTimerAsync(AdaptationRun run, IReadOnlyList<CandidateEntry> entrants, RunTimer timer, CancellationToken ct)
    {
        var o = options.Value;
        var timeout = o.NoProgressTimeout(run.State);
        var tuning = run.State == RunState.Tuning;
        var pending = entrants.Where(c => c.State == (tuning ? CandidateState.Training : CandidateState.Trained)).ToList();
        if (timer.Attempt < o.MaxAttempts && timer.WorkType is { } type && timer.WorkBody is { } body)
        {
            var next = timer.Attempt + 1;
            logger.LogWarning("Run {RunId}: no result of {Pending} in {State} for {Timeout}; sending their work again (attempt {Attempt} of {Max})",
                run.RunId, string.Join(", ", pending.Select(c => c.Strategy)), run.State, timeout, next, o.MaxAttempts);
            var again = pending.Select(c => RunMessages.Again(type, WithCandidate(body, c, tuning), next)).ToList();
            if (await steps.TryRearmAsync(run.RunId, run.State, timer.Attempt, next, time.GetUtcNow() + timeout, again, ct))
            {
                relay.Notify();
            }

            return;
        }

        var reason = $"no result in {run.State} for {timeout} after {timer.Attempt} attempt(s)";
        var dropped = pending.Select(c => c with { State = CandidateState.Failed, Reason = reason }).ToList();
        var settled = entrants.Select(c => dropped.FirstOrDefault(d => d.Strategy == c.Strategy) ?? c).ToList();
        await MoveAsync(run, tuning ? ToEvaluation(run, settled, dropped, await HoldoutAsync(run, ct)) : await DecideAsync(run, settled, dropped, ct), ct);
    }

    /// <summary>Every entrant has trained or dropped out: the trained ones go to the gate, on the same holdouts.</summary>
    private RunStep ToEvaluation(AdaptationRun run, IReadOnlyList<CandidateEntry> all, IReadOnlyList<CandidateEntry> settle, PayloadRef? holdout)
    {
        var trained = all.Where(c => c.State == CandidateState.Trained).ToList();
        if (trained.Count == 0 || holdout is null)
        {
            return Fail(run, RunStage.Tune, "no candidate trained: " + string.Join("; ", all.Select(c => $"{c.Strategy}: {c.Reason}"))) with { Candidates = settle };
        }

        var works = trained.Select(c => RunMessages.Of(new EvaluateCandidate
        {
            RunId = run.RunId, ModelId = run.ModelId, BaseVersion = run.BaseVersion, CandidateVersion = c.CandidateVersion!.Value,
            ShiftedHoldout = holdout, Strategy = c.Strategy,
        })).ToList();
        return new RunStep
        {
            RunId = run.RunId, Expected = RunState.Tuning, Next = RunState.Evaluating,
            Detail = "candidates " + string.Join(", ", all.Select(c => c.State == CandidateState.Trained ? $"v{c.CandidateVersion} ({c.Strategy})" : $"{c.Strategy} dropped out")),
            Messages = works, Timer = WorkTimer(run.RunId, RunState.Evaluating, works[0]), Candidates = settle,
        };
    }

    /// <summary>
    /// All results are in: the tournament score ranks the candidates the gate passed, and the gate's decision on the
    /// winner is the run's. With none passed, the run is rejected with every candidate's reasons.
    /// </summary>
    private async Task<RunStep> DecideAsync(AdaptationRun run, IReadOnlyList<CandidateEntry> all, IReadOnlyList<CandidateEntry> settle, CancellationToken ct)
    {
        var evaluated = all.Where(c => c.State == CandidateState.Evaluated).ToList();
        if (evaluated.Count == 0)
        {
            return Fail(run, RunStage.Evaluate, "no candidate was evaluated: " + string.Join("; ", all.Select(c => $"{c.Strategy}: {c.Reason}"))) with { Candidates = settle };
        }

        var weights = policy.Value.Score;
        var verdict = TournamentScore.Decide(evaluated.Select(c => new CandidateMeasurement(
            c.Strategy, c.Decision is nameof(GateDecision.Approve) or nameof(GateDecision.AskOperator),
            c.GainLower ?? c.Gain ?? 0, c.ForgettingUpper ?? c.Forgetting ?? 0, c.LatencyIncrease ?? 0, c.TrainSeconds ?? 0)).ToList(), weights);
        var judged = all.Select(c => verdict.Candidates.FirstOrDefault(v => v.Strategy == c.Strategy) is { } v
            ? c with { Score = v.Score, Outcome = v.Won ? "winner" : "lost", Reason = $"{v.Reason} | {c.Reason}" }
            : settle.FirstOrDefault(d => d.Strategy == c.Strategy) ?? c with { Outcome = "lost" }).ToList();
        var entry = await tournaments.GetAsync(run.RunId, ct) ?? NewTournament(run.RunId, run.ModelId, null);
        var best = verdict.Winner is { } w ? evaluated.First(c => c.Strategy == w)
            : evaluated.OrderByDescending(c => verdict.Candidates.First(v => v.Strategy == c.Strategy).Score).First();
        var won = verdict.Candidates.First(v => v.Strategy == best.Strategy);
        var version = best.CandidateVersion!.Value;
        var gateReasons = (best.Reason ?? "").StartsWith("gate: ", StringComparison.Ordinal) ? best.Reason![6..].Split("; ").ToList() : [];
        RunStep step;
        string why;
        if (verdict.Winner is not null)
        {
            why = $"{best.Strategy} v{version} {won.Reason}";
            var decision = Enum.Parse<GateDecision>(best.Decision!);
            step = GateStep(run, version, decision, [$"tournament: {why}", .. gateReasons]);
        }
        else
        {
            why = "no candidate passed the gate";
            step = Reject(run, version, GateUser, ApprovalMode.Auto,
                [$"tournament: {why}", .. evaluated.Select(c => $"{c.Strategy} v{c.CandidateVersion}: {c.Reason}")], RunState.Evaluating);
        }

        logger.LogInformation("Run {RunId} tournament: {Why}", run.RunId, why);
        return step with
        {
            Update = new RunUpdate { CandidateVersion = version, Strategy = best.Strategy },
            Tournament = entry with { Winner = verdict.Winner, WinnerReason = why },
            Candidates = judged,
        };
    }

    /// <summary>The shifted holdout of the run's tuning work (its timer holds the TrainCandidate it re-sends).</summary>
    private async Task<PayloadRef?> HoldoutAsync(AdaptationRun run, CancellationToken ct) =>
        await steps.GetTimerAsync(run.RunId, ct) is { State: RunState.Tuning, WorkType: { } type, WorkBody: { } body }
            && RunMessages.Read(type, body).Message is TrainCandidate work
            ? work.ShiftedHoldout
            : null;

    /// <summary>The stage's work template with one candidate filled in.</summary>
    private static string WithCandidate(string body, CandidateEntry c, bool tuning)
    {
        var node = JsonNode.Parse(body)!.AsObject();
        node["strategy"] = c.Strategy;
        if (!tuning)
        {
            node["candidateVersion"] = c.CandidateVersion;
        }

        return node.ToJsonString();
    }

    private static IReadOnlyList<string> Split(string? csv) =>
        (csv ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
