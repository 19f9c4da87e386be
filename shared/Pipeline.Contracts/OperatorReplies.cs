namespace Pipeline.Contracts;

// Operator commands and queries are MassTransit requests when sent with a response address
// (pipelinectl does): the owning service answers. A command published without one (plain AMQP,
// docs/operations.md) is carried out or refused exactly the same, without an answer.

/// <summary>The owning service carried out (or started) an operator command.</summary>
public sealed record CommandAccepted
{
    /// <summary>The command's message type, e.g. "ApproveCandidate".</summary>
    public required string Command { get; init; }
    /// <summary>What happened, for the operator (e.g. "run … approved; deploying v3").</summary>
    public required string Detail { get; init; }
    /// <summary>The operator the service acted for (the validated AMQP user_id).</summary>
    public required string By { get; init; }
    public DateTimeOffset Timestamp { get; init; } = DateTimeOffset.UtcNow;
}

/// <summary>The owning service refused an operator command; nothing was changed.</summary>
public sealed record CommandRefused
{
    public required string Command { get; init; }
    /// <summary>Why, for the operator (role missing, unknown run or model, version that does not exist, …).</summary>
    public required string Reason { get; init; }
    /// <summary>The sender as the broker validated it; null when the command had no user_id.</summary>
    public string? By { get; init; }
    public DateTimeOffset Timestamp { get; init; } = DateTimeOffset.UtcNow;
}

/// <summary>Asks the run owner for recent runs (newest first); answered with <see cref="RunList"/>.</summary>
public sealed record ListRuns
{
    public string? ModelId { get; init; }
    /// <summary>Only runs whose candidate awaits an operator's approval.</summary>
    public bool PendingOnly { get; init; }
    public int Limit { get; init; } = 20;
    public DateTimeOffset Timestamp { get; init; } = DateTimeOffset.UtcNow;
}

public sealed record RunList
{
    public required IReadOnlyList<RunSummary> Runs { get; init; }
    public DateTimeOffset Timestamp { get; init; } = DateTimeOffset.UtcNow;
}

/// <summary>One run as the run owner records it. State is the run state's name (Scoring, AwaitingApproval, Deployed, …).</summary>
public sealed record RunSummary
{
    public required Guid RunId { get; init; }
    public required string ModelId { get; init; }
    public required int BaseVersion { get; init; }
    public int? CandidateVersion { get; init; }
    public required string State { get; init; }
    public string? Strategy { get; init; }
    public DateTimeOffset DetectedAt { get; init; }
    public DateTimeOffset? FinishedAt { get; init; }
    public string? FailureStage { get; init; }
    public string? FailureReason { get; init; }
    /// <summary>AwaitingApproval: when the approval expires (the run is then rejected).</summary>
    public DateTimeOffset? ApprovalExpiresAt { get; init; }
}

/// <summary>Asks the run owner for one run; answered with <see cref="RunDetails"/>, or <see cref="CommandRefused"/> when unknown.</summary>
public sealed record GetRun
{
    public required Guid RunId { get; init; }
    public DateTimeOffset Timestamp { get; init; } = DateTimeOffset.UtcNow;
}

public sealed record RunDetails
{
    public required RunSummary Run { get; init; }
    public required IReadOnlyList<RunStageEntry> History { get; init; }
    public IReadOnlyList<RunApprovalEntry> Approvals { get; init; } = [];
    public RunEvaluationSummary? Evaluation { get; init; }
    /// <summary>Fraction of parameters the sensitivity mask selected, when scored.</summary>
    public double? MaskSelectedFraction { get; init; }
    /// <summary>The tournament of the run, when it had one (Tuning:Candidates above 1).</summary>
    public RunTournamentSummary? Tournament { get; init; }
    public IReadOnlyList<RunCandidateSummary> Candidates { get; init; } = [];
    public DateTimeOffset Timestamp { get; init; } = DateTimeOffset.UtcNow;
}

public sealed record RunStageEntry
{
    public required DateTimeOffset ChangedAt { get; init; }
    public required string State { get; init; }
    public string? Detail { get; init; }
}

public sealed record RunApprovalEntry
{
    public required string Decision { get; init; }
    public required string DecidedBy { get; init; }
    public required string Mode { get; init; }
    public DateTimeOffset DecidedAt { get; init; }
    public string? Reason { get; init; }
}

/// <summary>
/// The gate's measurements of the run's candidate (the one awaiting approval or decided, not the last one evaluated)
/// against the production version it would replace.
/// </summary>
public sealed record RunEvaluationSummary
{
    public required string Decision { get; init; }
    public int ProductionVersion { get; init; }
    public int CandidateVersion { get; init; }
    public double ShiftedBefore { get; init; }
    public double ShiftedAfter { get; init; }
    public double OriginalBefore { get; init; }
    public double OriginalAfter { get; init; }
    public double Forgetting { get; init; }
    public double? GainLower { get; init; }
    public double? GainUpper { get; init; }
    public double? ForgettingLower { get; init; }
    public double? ForgettingUpper { get; init; }
    /// <summary>The candidate's latency per batch; null when only its change is known (<see cref="LatencyIncrease"/>).</summary>
    public double? LatencyMs { get; init; }
    /// <summary>The candidate's latency change against production (0.1 = 10 % slower), when the run had a tournament.</summary>
    public double? LatencyIncrease { get; init; }
    /// <summary>The strategy that made the candidate, when the run had a tournament.</summary>
    public string? Strategy { get; init; }
}

/// <summary>The run's tournament: how the policy read the shift, which strategies entered and why, and the verdict.</summary>
public sealed record RunTournamentSummary
{
    public string? ShiftKind { get; init; }
    public string? Severity { get; init; }
    public int? LabelRows { get; init; }
    public string? Strategies { get; init; }
    public string? PolicyReason { get; init; }
    public string? Winner { get; init; }
    public string? WinnerReason { get; init; }
}

/// <summary>One candidate of a tournament: the gate's intervals on it, its score, and why it won or lost.</summary>
public sealed record RunCandidateSummary
{
    public required string Strategy { get; init; }
    public required string State { get; init; }
    public int? CandidateVersion { get; init; }
    public double? TrainSeconds { get; init; }
    public string? Decision { get; init; }
    public double? Gain { get; init; }
    public double? GainLower { get; init; }
    public double? GainUpper { get; init; }
    public double? Forgetting { get; init; }
    public double? ForgettingLower { get; init; }
    public double? ForgettingUpper { get; init; }
    public double? LatencyIncrease { get; init; }
    public double? Score { get; init; }
    public string? Outcome { get; init; }
    public string? Reason { get; init; }
}
