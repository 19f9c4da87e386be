using System.ComponentModel.DataAnnotations;

namespace Pipeline.SensitivityScoring;

/// <summary>Section "Scoring".</summary>
public sealed class ScoringServiceOptions
{
    public const string Section = "Scoring";

    /// <summary>
    /// Labelled shifted rows needed before a run can score (adaptation set + holdout). 1500 × 0.25 = 375
    /// holdout rows: the gate needs 361 for ±4 points at 95 % (Gate:Precision; docs/decisions.md).
    /// </summary>
    [Range(40, 1_000_000)]
    public int MinLabelledRows { get; set; } = 1500;

    /// <summary>At most this many of the most recent labelled rows are used.</summary>
    [Range(10, 1_000_000)]
    public int MaxRows { get; set; } = 4000;

    /// <summary>Share of the labelled rows held out for the evaluation gate.</summary>
    [Range(0.05, 0.9)]
    public double HoldoutFraction { get; set; } = 0.25;

    /// <summary>How long a run waits for enough labels before it fails.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan LabelWaitTimeout { get; set; } = TimeSpan.FromMinutes(5);

    [Range(typeof(TimeSpan), "00:00:00.050", "00:10:00")]
    public TimeSpan LabelPollInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Share of each backbone weight tensor kept in the mask (MIST select_rate).</summary>
    [Range(0.0001, 1.0)]
    public double SelectRate { get; set; } = 0.02;

    /// <summary>
    /// Share of the adaptation set drawn from the model's replay set (labelled original-distribution
    /// rows), so the tuned model keeps what it knew. 0 turns replay off. The shifted holdout is never mixed.
    /// </summary>
    [Range(0.0, 0.9)]
    public double ReplayFraction { get; set; } = 0.3;

    /// <summary>
    /// Draw the replay share class-balanced (every class of the replay set equally, the default); false: a uniform
    /// draw (kept so the difference can be measured: docs/ml.md, "Continual demo").
    /// </summary>
    public bool ClassBalancedReplay { get; set; } = true;

    public int Seed { get; set; } = 1;

    public string Device { get; set; } = "auto";

    /// <summary>Warm libtorch and the model-file path at start, before the first job is taken (<see cref="ScorerWarmUp"/>).</summary>
    public bool WarmUp { get; set; } = true;
}
