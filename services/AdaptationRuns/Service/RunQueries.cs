using Pipeline.Contracts;
using Pipeline.Storage.Repositories;

namespace Pipeline.AdaptationRuns;

/// <summary>
/// Adaptation runs as operators see them (<see cref="RunList"/>, <see cref="RunDetails"/>), read from the run
/// owner's records. The run owner answers ListRuns and GetRun with it over the bus; <c>pipelinectl runs --db</c>
/// uses it offline on a database file. Read only.
/// </summary>
public sealed class RunQueries(
    IAdaptationRunRepository runs, IRunStepStore steps, IModelRegistry registry, IApprovalRepository approvals,
    IEvaluationRepository evaluations, ISensitivityMaskRepository masks, ITournamentStore tournaments)
{
    public async Task<RunList> ListAsync(ListRuns query, CancellationToken ct)
    {
        List<AdaptationRun> found;
        if (query.PendingOnly)
        {
            found = (await runs.ListActiveAsync(ct))
                .Where(r => r.State == RunState.AwaitingApproval && (query.ModelId is null || r.ModelId == query.ModelId)).ToList();
        }
        else
        {
            var models = query.ModelId is { } one ? [one] : (await registry.ListModelsAsync(ct)).Select(m => m.ModelId).ToList();
            found = [];
            foreach (var model in models)
            {
                found.AddRange(await runs.ListByModelAsync(model, query.Limit, ct));
            }
        }

        var summaries = new List<RunSummary>();
        foreach (var run in found.OrderByDescending(r => r.DetectedAt).Take(query.Limit))
        {
            summaries.Add(await SummaryAsync(run, ct));
        }

        return new RunList { Runs = summaries };
    }

    /// <summary>One run with its stages, approvals, evaluation and mask; null when the run is unknown.</summary>
    public async Task<RunDetails?> GetAsync(Guid runId, CancellationToken ct)
    {
        if (await runs.GetAsync(runId, ct) is not { } run)
        {
            return null;
        }

        var history = await runs.GetHistoryAsync(runId, ct);
        var decided = await approvals.ListByRunAsync(runId, ct);
        var evaluation = await evaluations.GetAsync(runId, ct);
        var mask = await masks.GetAsync(runId, ct);
        var tournament = await tournaments.GetAsync(runId, ct);
        var candidates = await tournaments.ListCandidatesAsync(runId, ct);
        return new RunDetails
        {
            Run = await SummaryAsync(run, ct),
            History = history.Select(h => new RunStageEntry { ChangedAt = h.ChangedAt, State = h.ToState.ToString(), Detail = h.Detail }).ToList(),
            Approvals = decided.Select(a => new RunApprovalEntry
            {
                Decision = a.Decision.ToString(), DecidedBy = a.DecidedBy, Mode = a.Mode.ToString(), DecidedAt = a.DecidedAt, Reason = a.Reason,
            }).ToList(),
            Evaluation = EvaluationOf(run, evaluation, candidates),
            MaskSelectedFraction = mask?.SelectedFraction,
            Tournament = tournament is null ? null : new RunTournamentSummary
            {
                ShiftKind = tournament.ShiftKind, Severity = tournament.Severity, LabelRows = tournament.LabelRows,
                Strategies = tournament.Strategies, PolicyReason = tournament.PolicyReason,
                Winner = tournament.Winner, WinnerReason = tournament.WinnerReason,
            },
            Candidates = candidates.Select(c => new RunCandidateSummary
            {
                Strategy = c.Strategy, State = c.State.ToString(), CandidateVersion = c.CandidateVersion, TrainSeconds = c.TrainSeconds,
                Decision = c.Decision, Gain = c.Gain, GainLower = c.GainLower, GainUpper = c.GainUpper,
                Forgetting = c.Forgetting, ForgettingLower = c.ForgettingLower, ForgettingUpper = c.ForgettingUpper,
                LatencyIncrease = c.LatencyIncrease, Score = c.Score, Outcome = c.Outcome, Reason = c.Reason,
            }).ToList(),
        };
    }

    /// <summary>
    /// The gate's measurements of the run's candidate (the one awaiting approval, deployed or rejected), not of the
    /// last one evaluated. The gate keeps one evaluation row per run, which in a tournament is the last candidate it
    /// measured; when that is another entrant, the candidate's numbers come from its tournament entry (gain and
    /// forgetting with their intervals, measured on the same holdouts against the same production accuracies, so
    /// after = before + gain and original after = before − forgetting exactly) and its latency as a change.
    /// </summary>
    public static RunEvaluationSummary? EvaluationOf(AdaptationRun run, EvaluationRecord? evaluation, IReadOnlyList<CandidateEntry> candidates)
    {
        if (evaluation is null)
        {
            return null;
        }

        var last = candidates.FirstOrDefault(c => c.CandidateVersion == evaluation.CandidateVersion);
        var stored = new RunEvaluationSummary
        {
            Decision = evaluation.Decision, ProductionVersion = evaluation.ProductionVersion, CandidateVersion = evaluation.CandidateVersion,
            Strategy = last?.Strategy,
            ShiftedBefore = evaluation.AccShiftedBefore, ShiftedAfter = evaluation.AccShiftedAfter,
            OriginalBefore = evaluation.AccOriginalBefore, OriginalAfter = evaluation.AccOriginalAfter, Forgetting = evaluation.Forgetting,
            GainLower = evaluation.GainLower, GainUpper = evaluation.GainUpper,
            ForgettingLower = evaluation.ForgettingLower, ForgettingUpper = evaluation.ForgettingUpper, LatencyMs = evaluation.LatencyMs,
            LatencyIncrease = last?.LatencyIncrease,
        };
        if (run.CandidateVersion is not { } chosen || chosen == evaluation.CandidateVersion
            || candidates.FirstOrDefault(c => c.CandidateVersion == chosen) is not { Gain: { } gain, Forgetting: { } forgetting } entry)
        {
            return stored;
        }

        return stored with
        {
            Decision = entry.Decision ?? evaluation.Decision, CandidateVersion = chosen, Strategy = entry.Strategy,
            ShiftedAfter = evaluation.AccShiftedBefore + gain, OriginalAfter = evaluation.AccOriginalBefore - forgetting, Forgetting = forgetting,
            GainLower = entry.GainLower, GainUpper = entry.GainUpper, ForgettingLower = entry.ForgettingLower, ForgettingUpper = entry.ForgettingUpper,
            LatencyMs = null, LatencyIncrease = entry.LatencyIncrease,
        };
    }

    private async Task<RunSummary> SummaryAsync(AdaptationRun run, CancellationToken ct) => new()
    {
        RunId = run.RunId, ModelId = run.ModelId, BaseVersion = run.BaseVersion, CandidateVersion = run.CandidateVersion,
        State = run.State.ToString(), Strategy = run.Strategy, DetectedAt = run.DetectedAt, FinishedAt = run.FinishedAt,
        FailureStage = run.FailureStage, FailureReason = run.FailureReason,
        ApprovalExpiresAt = run.State == RunState.AwaitingApproval && await steps.GetTimerAsync(run.RunId, ct) is { State: RunState.AwaitingApproval } timer
            ? timer.DueAt : null,
    };
}
