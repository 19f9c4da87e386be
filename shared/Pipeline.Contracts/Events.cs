namespace Pipeline.Contracts;

// Events are past tense. Large tensors never travel inside a message: they go to the artifact
// store and the message carries a URI plus SHA-256 (PayloadRef).

public sealed record ModelVersionRegistered : IPipelineMessage
{
    public required string ModelId { get; init; }
    public required int Version { get; init; }
    public required string ArtifactUri { get; init; }
    public required string Sha256 { get; init; }
    public required string Architecture { get; init; }
    public required IReadOnlyList<int> InputShape { get; init; }
    public required IReadOnlyList<string> Classes { get; init; }
    /// <summary>Reference data (training sample) the drift profile is computed from.</summary>
    public PayloadRef? ReferenceData { get; init; }
    public string RegisteredBy { get; init; } = "system";
    /// <summary>Set when the registration was accepted despite a shortcoming the operator allowed (too small a reference).</summary>
    public string? Warning { get; init; }
    public DateTimeOffset Timestamp { get; init; } = DateTimeOffset.UtcNow;
}

public sealed record ObservationsIngested : IPipelineMessage
{
    public required string ModelId { get; init; }
    public required int ModelVersion { get; init; }
    public required Guid BatchId { get; init; }
    /// <summary>Row-major float32 features, <see cref="Count"/> × <see cref="FeatureCount"/>.</summary>
    public required PayloadRef Features { get; init; }
    public required int Count { get; init; }
    public required int FeatureCount { get; init; }
    public required IReadOnlyList<int> Predictions { get; init; }
    public IReadOnlyList<float>? Confidences { get; init; }
    /// <summary>
    /// Row-major float32 embeddings from the forward pass that made the predictions, <see cref="Count"/> ×
    /// <see cref="EmbeddingWidth"/>, so drift detection never runs the model again. Null from a client that has
    /// none: its rows are left out of the embedding statistics (MMD), and said so, but evaluated on the rest.
    /// </summary>
    public PayloadRef? Embeddings { get; init; }
    public int? EmbeddingWidth { get; init; }
    /// <summary>Labels when they are known at ingestion time; otherwise they come with <see cref="LabelsObserved"/>.</summary>
    public IReadOnlyList<int>? Labels { get; init; }
    public DateTimeOffset Timestamp { get; init; } = DateTimeOffset.UtcNow;
}

public sealed record LabelsObserved : IPipelineMessage
{
    public required string ModelId { get; init; }
    public required Guid BatchId { get; init; }
    public required IReadOnlyList<int> Labels { get; init; }
    public DateTimeOffset Timestamp { get; init; } = DateTimeOffset.UtcNow;
}

/// <summary>
/// A drift window was evaluated (clean or drifted, raised or not). <see cref="Batches"/> names the rows
/// that were new in this window, batch by batch: across all windows of a model every accepted row of
/// every ingested batch appears exactly once, restarts and replica takeovers included.
/// </summary>
public sealed record DriftWindowEvaluated : IPipelineMessage
{
    public required string ModelId { get; init; }
    public required int ModelVersion { get; init; }
    /// <summary>Unique across restarts and replicas (the stored drift report's window id).</summary>
    public required string WindowId { get; init; }
    /// <summary>Rows in the evaluated window (a sliding window also holds rows counted in earlier windows).</summary>
    public required int Rows { get; init; }
    public required bool DatasetDrift { get; init; }
    public required double ShareDrifted { get; init; }
    /// <summary>ok, insufficient_data or error.</summary>
    public required string Status { get; init; }
    /// <summary>True when this window raised DriftDetected.</summary>
    public bool Raised { get; init; }
    public required IReadOnlyList<WindowBatchSegment> Batches { get; init; }
    /// <summary>When the window was evaluated.</summary>
    public DateTimeOffset Timestamp { get; init; } = DateTimeOffset.UtcNow;
}

/// <summary><see cref="Rows"/> rows of batch <see cref="BatchId"/> (accepted by the API at <see cref="AcceptedAt"/>) were new in a window.</summary>
public sealed record WindowBatchSegment
{
    public required Guid BatchId { get; init; }
    public required int Rows { get; init; }
    public DateTimeOffset? AcceptedAt { get; init; }
}

public sealed record DriftDetected : IRunMessage
{
    public required Guid RunId { get; init; }
    public required string ModelId { get; init; }
    public required int ModelVersion { get; init; }
    public required string WindowId { get; init; }
    public required DriftSeverity Severity { get; init; }
    public required double DatasetDriftScore { get; init; }
    public IReadOnlyList<FeatureDriftScore> TopFeatures { get; init; } = [];
    /// <summary>Every feature the window flagged as drifted (the tournament's policy reads the kind of shift from all of them).</summary>
    public IReadOnlyList<FeatureDriftScore> DriftedFeatures { get; init; } = [];
    /// <summary>When the last clean window closed: rows received after it are the shifted data. Null: unknown.</summary>
    public DateTimeOffset? DriftStartedAt { get; init; }
    /// <summary>Set when an operator started the run with StartAdaptation.</summary>
    public string? TriggeredBy { get; init; }
    public DateTimeOffset Timestamp { get; init; } = DateTimeOffset.UtcNow;
}

public sealed record SensitivityScored : IRunMessage
{
    public required Guid RunId { get; init; }
    public required string ModelId { get; init; }
    public required int ModelVersion { get; init; }
    public required string MaskUri { get; init; }
    public required string Sha256 { get; init; }
    public required double SelectedFraction { get; init; }
    public IReadOnlyList<LayerCoverage> Coverage { get; init; } = [];
    public required Guid AdaptationSetId { get; init; }
    /// <summary>Labelled shifted rows the candidate is trained on.</summary>
    public required PayloadRef AdaptationSet { get; init; }
    /// <summary>Labelled shifted rows held out from training, for the evaluation gate.</summary>
    public required PayloadRef ShiftedHoldout { get; init; }
    /// <summary>Labelled shifted rows in the adaptation set (the label budget a tournament's policy reads); null: unknown.</summary>
    public int? LabelledRows { get; init; }
    public DateTimeOffset Timestamp { get; init; } = DateTimeOffset.UtcNow;
}

public sealed record TuningProgress : IRunMessage
{
    public required Guid RunId { get; init; }
    public required string ModelId { get; init; }
    public required int Step { get; init; }
    public required int TotalSteps { get; init; }
    public required double Loss { get; init; }
    public required double UpdatedFraction { get; init; }
    public string Phase { get; init; } = "mi";
    public DateTimeOffset Timestamp { get; init; } = DateTimeOffset.UtcNow;
}

public sealed record CandidateTrained : IRunMessage
{
    public required Guid RunId { get; init; }
    public required string ModelId { get; init; }
    public required int BaseVersion { get; init; }
    public required int CandidateVersion { get; init; }
    public required string ArtifactUri { get; init; }
    public required string Sha256 { get; init; }
    public required string Strategy { get; init; }
    public required double SelectedFraction { get; init; }
    public required double UpdatedFractionPerStep { get; init; }
    public required int Steps { get; init; }
    public required double TrainSeconds { get; init; }
    public required string Device { get; init; }
    public Guid AdaptationSetId { get; init; }
    /// <summary>Passed on from <see cref="SensitivityScored"/> for the evaluation gate.</summary>
    public required PayloadRef ShiftedHoldout { get; init; }
    public DateTimeOffset Timestamp { get; init; } = DateTimeOffset.UtcNow;
}

public sealed record CandidateEvaluated : IRunMessage
{
    public required Guid RunId { get; init; }
    public required string ModelId { get; init; }
    public required int CandidateVersion { get; init; }
    /// <summary>The candidate's id (<see cref="CandidateId"/>), passed on from <c>EvaluateCandidate.Strategy</c>; null in a one-candidate run.</summary>
    public string? Strategy { get; init; }
    public required int ProductionVersion { get; init; }
    public required double ShiftedAccuracyBefore { get; init; }
    public required double ShiftedAccuracyAfter { get; init; }
    public required double OriginalAccuracyBefore { get; init; }
    public required double OriginalAccuracyAfter { get; init; }
    public required double Forgetting { get; init; }
    public required double LatencyMsBefore { get; init; }
    public required double LatencyMsAfter { get; init; }
    /// <summary>False: the candidate's compute is production's (same architecture and shapes), latency was not judged and both figures are production's.</summary>
    public bool LatencyJudged { get; init; } = true;
    /// <summary>Interval of the relative latency increase from paired measurements, when judged.</summary>
    public ConfidenceInterval? LatencyIncreaseInterval { get; init; }

    /// <summary>Confidence intervals of gain and forgetting (paired, same rows); optional for older senders.</summary>
    public ConfidenceInterval? GainInterval { get; init; }
    public ConfidenceInterval? ForgettingInterval { get; init; }
    public int? ShiftedRows { get; init; }
    public int? OriginalRows { get; init; }
    public required GateDecision Decision { get; init; }
    public IReadOnlyList<string> Reasons { get; init; } = [];
    public DateTimeOffset Timestamp { get; init; } = DateTimeOffset.UtcNow;
}

public sealed record ApprovalRequested : IRunMessage
{
    public required Guid RunId { get; init; }
    public required string ModelId { get; init; }
    public required int CandidateVersion { get; init; }
    public IReadOnlyList<string> Reasons { get; init; } = [];
    public required DateTimeOffset ExpiresAt { get; init; }
    public DateTimeOffset Timestamp { get; init; } = DateTimeOffset.UtcNow;
}

public sealed record CandidateApproved : IRunMessage
{
    public required Guid RunId { get; init; }
    public required string ModelId { get; init; }
    public required int CandidateVersion { get; init; }
    public required string By { get; init; }
    public required ApprovalMode Mode { get; init; }
    public IReadOnlyList<string> Reasons { get; init; } = [];
    public DateTimeOffset Timestamp { get; init; } = DateTimeOffset.UtcNow;
}

public sealed record CandidateRejected : IRunMessage
{
    public required Guid RunId { get; init; }
    public required string ModelId { get; init; }
    public required int CandidateVersion { get; init; }
    public required string By { get; init; }
    public required ApprovalMode Mode { get; init; }
    public IReadOnlyList<string> Reasons { get; init; } = [];
    public DateTimeOffset Timestamp { get; init; } = DateTimeOffset.UtcNow;
}

public sealed record ModelDeployed : IPipelineMessage
{
    public required string ModelId { get; init; }
    public required int Version { get; init; }
    public int? PreviousVersion { get; init; }
    public Guid? RunId { get; init; }
    public required string ArtifactUri { get; init; }
    public required string Sha256 { get; init; }
    public required string By { get; init; }
    public string Reason { get; init; } = "";
    public DateTimeOffset Timestamp { get; init; } = DateTimeOffset.UtcNow;
}

public sealed record ModelRolledBack : IPipelineMessage
{
    public required string ModelId { get; init; }
    public required int Version { get; init; }
    public required int PreviousVersion { get; init; }
    public required string ArtifactUri { get; init; }
    public required string Sha256 { get; init; }
    public required string By { get; init; }
    public required string Reason { get; init; }
    public DateTimeOffset Timestamp { get; init; } = DateTimeOffset.UtcNow;
}

public sealed record AdaptationRunFailed : IRunMessage
{
    public required Guid RunId { get; init; }
    public required string ModelId { get; init; }
    public required string Stage { get; init; }
    public required string Reason { get; init; }
    public DateTimeOffset Timestamp { get; init; } = DateTimeOffset.UtcNow;
}
