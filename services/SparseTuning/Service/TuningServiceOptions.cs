using System.ComponentModel.DataAnnotations;

namespace Pipeline.SparseTuning;

/// <summary>Section "Tuning": how this tuner trains a candidate.</summary>
public sealed class TuningServiceOptions
{
    public const string Section = "Tuning";

    /// <summary>
    /// Strategy for work that names none (a one-candidate run): a strategy whose model predicts on its own
    /// (Pipeline.Contracts.StrategyRegistry.Servable). Default ties, chosen by measurement: it passed the gate most often in the demo tournaments (docs/ml.md, "Tournament").
    /// </summary>
    [RegularExpression("^(full|head|random|mist|mist-ridge|ewc|lora|ties|wise)$")]
    public string Strategy { get; set; } = "ties";

    /// <summary>
    /// Sample budget, as <c>bench adapt</c> counts it: Steps × BatchSize labelled samples, rounded up to whole passes
    /// over the adaptation set (at least 2: MIST spends its first pass on scoring).
    /// </summary>
    [Range(1, 100_000)]
    public int Steps { get; set; } = 150;

    [Range(1, 4096)]
    public int BatchSize { get; set; } = 64;

    public int Seed { get; set; } = 1;

    /// <summary>auto picks CUDA when torch sees a GPU, otherwise CPU.</summary>
    public string Device { get; set; } = "auto";

    /// <summary>Run one training step at start, before the first job is taken (<see cref="TunerWarmUp"/>).</summary>
    public bool WarmUp { get; set; } = true;

    /// <summary>Publish TuningProgress every this many optimizer steps.</summary>
    [Range(1, 100_000)]
    public int ProgressEverySteps { get; set; } = 10;

    /// <summary>
    /// At most this many rows in a new version's replay set and in its gate holdout, shared among the regimes it has
    /// adapted to (original first), class-balanced within each (Pipeline.Artifacts.RegimeSets).
    /// </summary>
    [Range(100, 1_000_000)]
    public int MaxRegimeRows { get; set; } = 4000;

    /// <summary>Passes over the adaptation set for <paramref name="rows"/> rows.</summary>
    public int EpochsFor(int rows) => Math.Max(2, (int)Math.Ceiling(Steps * (double)BatchSize / Math.Max(1, rows)));
}
