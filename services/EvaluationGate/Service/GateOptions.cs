using System.ComponentModel.DataAnnotations;

namespace Pipeline.EvaluationGate;

public enum GateMode
{
    /// <summary>A candidate that passes every check is deployed without a person.</summary>
    Auto,

    /// <summary>Every passing candidate waits for an operator's ApproveCandidate.</summary>
    Manual,
}

/// <summary>Section "Gate": the promotion policy.</summary>
public sealed class GateOptions
{
    public const string Section = "Gate";

    public GateMode Mode { get; set; } = GateMode.Auto;

    /// <summary>Minimum accuracy gain on the shifted holdout (absolute, e.g. 0.02 = 2 points).</summary>
    [Range(-1.0, 1.0)]
    public double MinGain { get; set; } = 0.02;

    /// <summary>Maximum accuracy drop on the original (reference) holdout.</summary>
    [Range(0.0, 1.0)]
    public double MaxForgetting { get; set; } = 0.03;

    /// <summary>Maximum relative latency increase (0.5 = 50% slower per batch).</summary>
    [Range(0.0, 100.0)]
    public double MaxLatencyIncrease { get; set; } = 0.5;

    /// <summary>Latency increases smaller than this many milliseconds per batch never fail a candidate (timer noise).</summary>
    [Range(0.0, 10_000.0)]
    public double LatencyToleranceMs { get; set; } = 1.0;

    /// <summary>Interleaved measurement rounds; each model's fastest round is compared.</summary>
    [Range(1, 100)]
    public int LatencyRounds { get; set; } = 7;

    /// <summary>A gain this far below MinGain, or forgetting this far above MaxForgetting, asks a person instead of rejecting.</summary>
    [Range(0.0, 1.0)]
    public double GreyZone { get; set; } = 0.02;

    /// <summary>Device for evaluation: auto, cpu or cuda.</summary>
    public string Device { get; set; } = "auto";

    /// <summary>Batch size for the latency measurement.</summary>
    [Range(1, 4096)]
    public int LatencyBatchSize { get; set; } = 64;
}
