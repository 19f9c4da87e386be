namespace Pipeline.Contracts;

/// <summary>Every message names the model it is about and when it was produced.</summary>
public interface IPipelineMessage
{
    string ModelId { get; }

    DateTimeOffset Timestamp { get; }
}

/// <summary>A message that belongs to one adaptation run.</summary>
public interface IRunMessage : IPipelineMessage
{
    Guid RunId { get; }
}

public enum DriftSeverity
{
    None = 0,
    Low = 1,
    Medium = 2,
    High = 3,
}

public enum GateDecision
{
    Approve,
    Reject,
    AskOperator,
}

public enum ApprovalMode
{
    Auto,
    Manual,
    Expired,
}

/// <summary>A reference to a large payload kept outside the message (artifact store or message data).</summary>
public sealed record PayloadRef
{
    public required string Uri { get; init; }

    public required string Sha256 { get; init; }

    public long SizeBytes { get; init; }
}

public sealed record FeatureDriftScore
{
    public required string Name { get; init; }

    /// <summary>The test that decided: ks, chi2, mmd, prediction.</summary>
    public required string Test { get; init; }

    public double Statistic { get; init; }

    public double PValue { get; init; }

    public double? Psi { get; init; }

    public bool Drifted { get; init; }
}

/// <summary>A two-sided interval of a difference in accuracy (fractions, so within [−1, 1]).</summary>
public sealed record ConfidenceInterval
{
    public required double Lower { get; init; }

    public required double Upper { get; init; }

    /// <summary>Confidence level, e.g. 0.95.</summary>
    public required double Level { get; init; }
}

public sealed record LayerCoverage
{
    public required string Layer { get; init; }

    public long Total { get; init; }

    public long Selected { get; init; }
}
