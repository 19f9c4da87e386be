namespace Pipeline.Contracts;

// Commands are imperative and come from operators (pipelinectl or any AMQP client). The operator
// is never a message field: it is the RabbitMQ user that sent the message (validated user_id).

public sealed record ApproveCandidate
{
    public required Guid RunId { get; init; }
    public required string Reason { get; init; }
    /// <summary>Optional; the run already names its model.</summary>
    public string? ModelId { get; init; }
    public DateTimeOffset Timestamp { get; init; } = DateTimeOffset.UtcNow;
}

public sealed record RejectCandidate
{
    public required Guid RunId { get; init; }
    public required string Reason { get; init; }
    public string? ModelId { get; init; }
    public DateTimeOffset Timestamp { get; init; } = DateTimeOffset.UtcNow;
}

public sealed record RollbackModel : IPipelineMessage
{
    public required string ModelId { get; init; }
    /// <summary>The version to return to; the previous production version when omitted.</summary>
    public int? ToVersion { get; init; }
    public required string Reason { get; init; }
    public DateTimeOffset Timestamp { get; init; } = DateTimeOffset.UtcNow;
}

public sealed record PauseAdaptation : IPipelineMessage
{
    public required string ModelId { get; init; }
    public required string Reason { get; init; }
    public DateTimeOffset Timestamp { get; init; } = DateTimeOffset.UtcNow;
}

public sealed record ResumeAdaptation : IPipelineMessage
{
    public required string ModelId { get; init; }
    public required string Reason { get; init; }
    public DateTimeOffset Timestamp { get; init; } = DateTimeOffset.UtcNow;
}

public sealed record StartAdaptation : IPipelineMessage
{
    public required string ModelId { get; init; }
    public required string Reason { get; init; }
    public DateTimeOffset Timestamp { get; init; } = DateTimeOffset.UtcNow;
}

/// <summary>
/// Registers a model version with the service that owns the registry (Deployment). The sender first puts the
/// model file and the labelled reference rows into the artifact store (ctl models register does); the service
/// checks the model against its manifest, stores the version with its drift reference, replay set and gate
/// holdout, publishes ModelVersionRegistered (also the reply to a request) and, with Deploy, promotes it.
/// A refusal (bad manifest, not TorchScript, rows that do not fit) is a fault with the reason.
/// </summary>
public sealed record RegisterModel : IPipelineMessage
{
    public required string ModelId { get; init; }
    /// <summary>A TorchScript file saved by PyTorch (with <see cref="Manifest"/>) or a pipeline model file.</summary>
    public required PayloadRef ModelFile { get; init; }
    /// <summary>The manifest JSON (docs/models.md); required for TorchScript files.</summary>
    public string? Manifest { get; init; }
    /// <summary>Labelled rows of the original distribution (FeatureBlob), split into drift reference, replay set and gate holdout.</summary>
    public required PayloadRef ReferenceData { get; init; }
    /// <summary>Optional explicit gate holdout; then <see cref="ReferenceData"/> is the drift reference only.</summary>
    public PayloadRef? GateHoldout { get; init; }
    /// <summary>Optional explicit replay set (never the gate holdout's rows).</summary>
    public PayloadRef? ReplaySet { get; init; }
    public bool Deploy { get; init; }
    public string Reason { get; init; } = "registered";
    /// <summary>
    /// One per registration the operator asked for (pipelinectl sends one per invocation): a redelivery or retry
    /// of the same key registers no second version and moves the alias no second time. Without it, the
    /// message id is the key.
    /// </summary>
    public string? IdempotencyKey { get; init; }
    /// <summary>Accept reference data too small for the gate's holdouts (the gate will then refuse to decide).</summary>
    public bool AllowSmallReference { get; init; }
    public DateTimeOffset Timestamp { get; init; } = DateTimeOffset.UtcNow;
}

/// <summary>Asks the registry for its models (all, or one with every version); answered with <see cref="ModelCatalog"/>.</summary>
public sealed record ListModels
{
    public string? ModelId { get; init; }
    public DateTimeOffset Timestamp { get; init; } = DateTimeOffset.UtcNow;
}

/// <summary>The registry's answer to <see cref="ListModels"/>.</summary>
public sealed record ModelCatalog
{
    public required IReadOnlyList<CatalogModel> Models { get; init; }
    public DateTimeOffset Timestamp { get; init; } = DateTimeOffset.UtcNow;
}

public sealed record CatalogModel
{
    public required string ModelId { get; init; }
    public int? ProductionVersion { get; init; }
    public int? LatestVersion { get; init; }
    public required IReadOnlyList<CatalogVersion> Versions { get; init; }
}

public sealed record CatalogVersion
{
    public required int Version { get; init; }
    public required string Architecture { get; init; }
    public required IReadOnlyList<int> InputShape { get; init; }
    public required IReadOnlyList<string> Classes { get; init; }
    public long ParamsTotal { get; init; }
    public required string Sha256 { get; init; }
    public required string ArtifactUri { get; init; }
    public required string CreatedBy { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    /// <summary>The version's metadata (reference data, run, strategy) as stored.</summary>
    public string? Metadata { get; init; }
}
