using System.ComponentModel.DataAnnotations;
using Pipeline.ML.Evaluation;

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

    /// <summary>Paired latency measurements (one batch through each model, back to back) when the compute changed.</summary>
    [Range(2, 1000)]
    public int LatencyPairs { get; set; } = 30;

    /// <summary>Judge latency even when the compute did not change (an operator who distrusts the compute signature).</summary>
    public bool AlwaysJudgeLatency { get; set; }

    /// <summary>How long a latency measurement waits for trainings in the same process to end before it measures anyway.</summary>
    [Range(0, 3600)]
    public int LatencyQuietWaitSeconds { get; set; } = 300;

    /// <summary>Two-sided confidence level of the gain and forgetting intervals.</summary>
    [Range(0.5, 0.9999)]
    public double Confidence { get; set; } = 0.95;

    /// <summary>
    /// Half-width of the intervals the gate must be able to reach (0.04 = ±4 points). With
    /// <see cref="ExpectedDiscordance"/> it fixes the smallest holdout the gate decides on.
    /// </summary>
    [Range(0.001, 0.5)]
    public double Precision { get; set; } = 0.04;

    /// <summary>
    /// Share of holdout rows on which exactly one of the base version and candidate is right. Only those
    /// rows inform the difference; the demo's runs measured 0.05–0.25.
    /// </summary>
    [Range(0.001, 1.0)]
    public double ExpectedDiscordance { get; set; } = 0.15;

    /// <summary>Rows each holdout needs: z² · ExpectedDiscordance / Precision² (361 with the defaults).</summary>
    public int RequiredRows => PairedComparison.RequiredRows(Precision, ExpectedDiscordance, Confidence);

    /// <summary>A class of the original data whose accuracy drops by more than this (significantly) fails a candidate.</summary>
    [Range(0.0, 1.0)]
    public double MaxClassDrop { get; set; } = 0.10;

    /// <summary>Classes with fewer original-holdout rows than this are not judged on their own.</summary>
    [Range(1, 1_000_000)]
    public int MinClassRows { get; set; } = 30;

    /// <summary>Device for evaluation: auto, cpu or cuda.</summary>
    public string Device { get; set; } = "auto";

    /// <summary>Batch size for the latency measurement.</summary>
    [Range(1, 4096)]
    public int LatencyBatchSize { get; set; } = 64;

    /// <summary>Warm libtorch and the model-file path at start, before the first candidate is evaluated (<see cref="GateWarmUp"/>).</summary>
    public bool WarmUp { get; set; } = true;
}
