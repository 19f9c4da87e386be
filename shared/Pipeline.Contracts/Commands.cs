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
