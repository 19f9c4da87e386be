namespace Pipeline.Contracts;

// The adaptation run's owner (services/AdaptationRuns, RunOwner) sends each stage its work as one
// of these commands and is the only writer of the run. A worker does the work, publishes the
// stage's result event (SensitivityScored, CandidateTrained, CandidateEvaluated, ModelDeployed) or
// AdaptationStageFailed, and never moves the run. Work is redone when a worker dies, so doing the
// same command twice must be harmless: Attempt says which sending this is, for logs only.

public sealed record ScoreSensitivity : IRunMessage
{
    public required Guid RunId { get; init; }
    public required string ModelId { get; init; }
    /// <summary>The production version the run adapts; every stage works against it.</summary>
    public required int BaseVersion { get; init; }
    /// <summary>Rows received after this are the shifted data; null: the most recent labelled rows.</summary>
    public DateTimeOffset? DriftStartedAt { get; init; }
    public int Attempt { get; init; } = 1;
    public DateTimeOffset Timestamp { get; init; } = DateTimeOffset.UtcNow;
}

public sealed record TrainCandidate : IRunMessage
{
    public required Guid RunId { get; init; }
    public required string ModelId { get; init; }
    public required int BaseVersion { get; init; }
    public required string MaskUri { get; init; }
    public required string Sha256 { get; init; }
    public required double SelectedFraction { get; init; }
    public required Guid AdaptationSetId { get; init; }
    public required PayloadRef AdaptationSet { get; init; }
    public required PayloadRef ShiftedHoldout { get; init; }
    /// <summary>
    /// The strategy to train with (<see cref="StrategyRegistry.Servable"/>); null: the
    /// tuner's own Tuning:Strategy (a one-candidate run).
    /// </summary>
    public string? Strategy { get; init; }
    public int Attempt { get; init; } = 1;
    public DateTimeOffset Timestamp { get; init; } = DateTimeOffset.UtcNow;
}

public sealed record EvaluateCandidate : IRunMessage
{
    public required Guid RunId { get; init; }
    public required string ModelId { get; init; }
    /// <summary>The candidate is measured against this version, not whatever production is now.</summary>
    public required int BaseVersion { get; init; }
    public required int CandidateVersion { get; init; }
    public required PayloadRef ShiftedHoldout { get; init; }
    /// <summary>The strategy that trained the candidate: the candidate's one id in its run (AdaptationStageFailed.Candidate).</summary>
    public string? Strategy { get; init; }
    public int Attempt { get; init; } = 1;
    public DateTimeOffset Timestamp { get; init; } = DateTimeOffset.UtcNow;
}

public sealed record DeployCandidate : IRunMessage
{
    public required Guid RunId { get; init; }
    public required string ModelId { get; init; }
    /// <summary>Production must still be this version (or already the candidate): otherwise the deployment is refused.</summary>
    public required int BaseVersion { get; init; }
    public required int CandidateVersion { get; init; }
    public required string By { get; init; }
    public required ApprovalMode Mode { get; init; }
    public int Attempt { get; init; } = 1;
    public DateTimeOffset Timestamp { get; init; } = DateTimeOffset.UtcNow;
}

/// <summary>The stages of a run: each is one worker's job (approval is an approver's).</summary>
public enum RunStage
{
    /// <summary>The run could not start (drift on a version no longer in production).</summary>
    Start,
    Score,
    Tune,
    Evaluate,
    Approval,
    Deploy,
}

public static class RunStages
{
    /// <summary>The stage's name in events and in the run's record (score, tune, evaluate, approval, deploy).</summary>
    public static string Name(this RunStage stage) => stage.ToString().ToLowerInvariant();
}

/// <summary>A worker could not do its stage's work for a reason retrying will not fix.</summary>
public sealed record AdaptationStageFailed : IRunMessage
{
    public required Guid RunId { get; init; }
    public required string ModelId { get; init; }
    public required RunStage Stage { get; init; }
    public required string Reason { get; init; }
    /// <summary>
    /// In a tournament: the candidate whose work failed, by its one id in the run, the strategy that trains it
    /// (TrainCandidate.Strategy, EvaluateCandidate.Strategy); null: the whole stage.
    /// </summary>
    public string? Candidate { get; init; }
    public DateTimeOffset Timestamp { get; init; } = DateTimeOffset.UtcNow;
}

public sealed record AdaptationRunStarted : IRunMessage
{
    public required Guid RunId { get; init; }
    public required string ModelId { get; init; }
    public required int BaseVersion { get; init; }
    /// <summary>"drift" or the operator who sent StartAdaptation.</summary>
    public required string TriggeredBy { get; init; }
    public DateTimeOffset Timestamp { get; init; } = DateTimeOffset.UtcNow;
}

public enum RunOutcome
{
    Deployed,
    Rejected,
    Failed,
}

/// <summary>The run reached a terminal state; published once per run by its owner.</summary>
public sealed record AdaptationRunFinished : IRunMessage
{
    public required Guid RunId { get; init; }
    public required string ModelId { get; init; }
    public required int BaseVersion { get; init; }
    public required RunOutcome Outcome { get; init; }
    public int? CandidateVersion { get; init; }
    /// <summary>Failed: the stage that failed.</summary>
    public string? Stage { get; init; }
    public required string Reason { get; init; }
    public DateTimeOffset Timestamp { get; init; } = DateTimeOffset.UtcNow;
}
