using System.ComponentModel.DataAnnotations;

namespace Pipeline.SparseTuning;

/// <summary>Section "Tuning".</summary>
public sealed class TuningServiceOptions
{
    public const string Section = "Tuning";

    /// <summary>mist (default), full, head, random, or one of the research's other strategies: ewc, lora, ties, wise, retrain.</summary>
    [RegularExpression("^(mist|full|head|random|ewc|lora|ties|wise|retrain)$")]
    public string Strategy { get; set; } = "mist";

    [Range(1, 100_000)]
    public int Steps { get; set; } = 150;

    /// <summary>Null: the strategy's default learning rate.</summary>
    [Range(1e-7, 1.0)]
    public double? LearningRate { get; set; }

    /// <summary>Share of masked gradient elements dropped each step (MIST drop_rate).</summary>
    [Range(0.0, 0.999)]
    public double DropRate { get; set; } = 0.9;

    [Range(1, 4096)]
    public int BatchSize { get; set; } = 64;

    /// <summary>Share of the steps spent on the MI objective before the classifier-head phase.</summary>
    [Range(0.0, 1.0)]
    public double MiPhaseFraction { get; set; } = 0.5;

    /// <summary>Random-mask budget (the random baseline); MIST takes its mask from scoring.</summary>
    [Range(0.0001, 1.0)]
    public double SelectRate { get; set; } = 0.02;

    public int Seed { get; set; } = 1;

    /// <summary>auto picks CUDA when torch sees a GPU, otherwise CPU.</summary>
    public string Device { get; set; } = "auto";

    /// <summary>Publish TuningProgress every this many steps.</summary>
    [Range(1, 100_000)]
    public int ProgressEverySteps { get; set; } = 10;
}
