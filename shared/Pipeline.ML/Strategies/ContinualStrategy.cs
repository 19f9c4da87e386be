using Pipeline.ML.Data;
using Pipeline.ML.Models;
using static TorchSharp.torch;

namespace Pipeline.ML.Strategies;

/// <summary>The fixed training protocol every strategy gets per adaptation (identical for every method).</summary>
public sealed record AdaptationBudget
{
    /// <summary>Passes over the labelled data per adaptation (MIST: 1 scoring pass + Epochs − 1 training passes, as the code's mi_epochs).</summary>
    public int Epochs { get; init; } = 20;

    /// <summary>Mini-batch size (labelled samples per step; MIST's code uses 32).</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Base recipe for <c>retrain</c>: epochs over original + labelled data.</summary>
    public int RetrainEpochs { get; init; } = 2;

    /// <summary>Base recipe for <c>retrain</c>: original training images used (0 = all).</summary>
    public int RetrainOriginalSize { get; init; }

    /// <summary>Optimizer steps of one adaptation on <paramref name="samples"/> labelled samples.</summary>
    public int StepsFor(int samples) => Math.Max(1, Epochs * (int)Math.Ceiling(samples / (double)BatchSize));
}

/// <summary>What a strategy may use in one adaptation besides the model and the labelled data.</summary>
public sealed record AdaptationContext
{
    /// <summary>Seed of this adaptation (batch order, augmentations, draws).</summary>
    public required int Seed { get; init; }

    /// <summary>Protocol.</summary>
    public required AdaptationBudget Budget { get; init; }

    /// <summary>The deployed base model (never modified): task vectors and merging start from it.</summary>
    public required ModelBundle BaseModel { get; init; }

    /// <summary>Labelled original-distribution data the deployment keeps as its reference (EWC's Fisher, readout initialisation).</summary>
    public required ImageDataset Reference { get; init; }

    /// <summary>Original training data (only <c>retrain</c> reads it).</summary>
    public ImageDataset? OriginalTrain { get; init; }

    /// <summary>Labelled sets of every regime before the current one (only <c>retrain</c> reads them).</summary>
    public IReadOnlyList<ImageDataset> EarlierRegimes { get; init; } = [];

    /// <summary>"auto", "cpu" or "cuda".</summary>
    public string Device { get; init; } = "auto";

    /// <summary>Zero-based position of this adaptation in the sequence.</summary>
    public int Index { get; init; }

    /// <summary>Told after each optimizer step (a service's liveness signal); null: nobody listens.</summary>
    public IProgress<Tuning.TuningStep>? Progress { get; init; }
}

/// <summary>Cost and sparsity of one adaptation (fractions are of all model parameters).</summary>
public sealed record AdaptationStats
{
    /// <summary>Wall-clock seconds (scoring, training and readout fitting).</summary>
    public double TrainSeconds { get; init; }

    /// <summary>Samples passed through the network in training-time forward passes (backward included where made).</summary>
    public long SamplePasses { get; init; }

    /// <summary>Elements allowed to change / all parameters.</summary>
    public double SelectedFraction { get; init; }

    /// <summary>Measured mean over steps of elements of predictive parameters that changed / all parameters.</summary>
    public double UpdatedFractionPerStep { get; init; }

    /// <summary>Peak bytes of optimizer state.</summary>
    public long OptimizerStateBytes { get; init; }

    /// <summary>Optimizer steps.</summary>
    public int Steps { get; init; }

    /// <summary>Free-form detail (chosen rank, λ, …).</summary>
    public string? Detail { get; init; }
}

/// <summary>
/// A continual adaptation strategy: adapts its own previous result to each regime in turn and predicts with it.
/// Implementations keep whatever state they need across adaptations (readout statistics, Fisher, task vectors,
/// frozen elements) and work on named parameters only, so they apply to any model.
/// </summary>
public interface IContinualStrategy : IDisposable
{
    /// <summary>Method name (as in <c>--methods</c>).</summary>
    string Name { get; }

    /// <summary>Adapts <paramref name="current"/> (not modified) to <paramref name="labelled"/>; returns the new model (caller owns it).</summary>
    (ModelBundle Model, AdaptationStats Stats) Adapt(ModelBundle current, ImageDataset labelled, AdaptationContext context, CancellationToken ct = default);

    /// <summary>Predicted classes for images (the strategy's readout; by default the model's own classifier).</summary>
    long[] Predict(ModelBundle model, Tensor images);
}

/// <summary>Implementations of the registry's strategies (<see cref="Contracts.StrategyRegistry"/>).</summary>
public static class ContinualStrategies
{
    /// <summary>All names accepted by <see cref="Create"/>: the registry's.</summary>
    public static IReadOnlyList<string> All => Contracts.StrategyRegistry.Names;

    /// <summary>Creates a strategy by name.</summary>
    /// <param name="name">A registry name.</param>
    /// <param name="classes">Classes of the model.</param>
    /// <param name="selectRate">
    /// The share of each backbone tensor that MIST's selection keeps (<c>mist</c>, <c>mist-ridge</c>, <c>random</c>);
    /// null keeps <see cref="MistOptions.SelectRate"/>. The benchmarks' selection sweep sets it; other strategies ignore it.
    /// </param>
    public static IContinualStrategy Create(string name, int classes = 10, double? selectRate = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (selectRate is { } rate && !(rate > 0 && rate <= 1)) throw new ArgumentOutOfRangeException(nameof(selectRate), rate, "the select rate must be in (0, 1]");
        var mist = selectRate is { } r ? new MistOptions { SelectRate = r } : new MistOptions();
        return name.Trim().ToLowerInvariant() switch
        {
            "full" => new DenseStrategy("full"),
            "head" => new DenseStrategy("head"),
            "mist" => new MistStrategy(mist, "mist", "prototype", classes),
            "mist-ridge" => new MistStrategy(mist, "mist-ridge", "ridge", classes),
            "random" => new MistStrategy(mist with { RandomMask = true }, "random", "prototype", classes),
            "ridge" => new ReadoutStrategy("ridge", "ridge", classes),
            "prototype" => new ReadoutStrategy("prototype", "prototype", classes),
            "ewc" => new EwcStrategy(new EwcOptions()),
            "lora" => new LoraStrategy(new LoraOptions()),
            "ties" => new TiesStrategy(new TiesOptions()),
            "wise" => new WiseStrategy(new WiseOptions()),
            "retrain" => new RetrainStrategy(),
            _ => throw new ArgumentException($"unknown strategy '{name}' (known: {string.Join(", ", All)})", nameof(name)),
        };
    }
}
