using System.Diagnostics;
using Pipeline.ML.Data;
using Pipeline.ML.Models;
using Pipeline.ML.Training;
using Pipeline.ML.Tuning;
using static TorchSharp.torch;

namespace Pipeline.ML.Strategies;

/// <summary>Full fine-tuning ("full", Adam 1e-3) or classifier head only ("head", Adam 1e-2), cross-entropy, through <see cref="Tuner"/>.</summary>
public sealed class DenseStrategy : IContinualStrategy
{
    /// <summary>"full" or "head".</summary>
    public DenseStrategy(string name)
    {
        if (name is not ("full" or "head")) throw new ArgumentException("dense strategies are full and head", nameof(name));
        Name = name;
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public (ModelBundle Model, AdaptationStats Stats) Adapt(ModelBundle current, ImageDataset labelled, AdaptationContext context, CancellationToken ct = default) =>
        FineTune(Name, current, labelled, context, ct);

    /// <summary>Cross-entropy fine-tuning of a copy of <paramref name="start"/> with the protocol's steps.</summary>
    internal static (ModelBundle Model, AdaptationStats Stats) FineTune(string strategy, ModelBundle start, ImageDataset labelled,
        AdaptationContext context, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(start);
        ArgumentNullException.ThrowIfNull(labelled);
        ArgumentNullException.ThrowIfNull(context);
        var steps = context.Budget.StepsFor(labelled.Count);
        var batch = Math.Min(context.Budget.BatchSize, labelled.Count);
        var result = Tuner.Tune(strategy, start, null, labelled,
            new TuningOptions { Steps = steps, BatchSize = batch, Seed = context.Seed, Device = context.Device }, context.Progress, ct);
        var s = result.Stats;
        return (result.Model, new AdaptationStats
        {
            TrainSeconds = s.TrainSeconds,
            SamplePasses = (long)steps * batch,
            SelectedFraction = s.SelectedFraction,
            UpdatedFractionPerStep = s.UpdatedFractionPerStep,
            OptimizerStateBytes = s.OptimizerStateBytes,
            Steps = s.Steps,
        });
    }

    /// <inheritdoc />
    public long[] Predict(ModelBundle model, Tensor images) => ParameterOps.PredictWithClassifier(model, images);

    /// <inheritdoc />
    public void Dispose()
    {
    }
}

/// <summary>WiSE-FT options.</summary>
public sealed record WiseOptions
{
    /// <summary>Weight of the fine-tuned candidate (WiSE-FT's customary mid-point).</summary>
    public double Alpha { get; init; } = 0.5;
}

/// <summary>
/// WiSE-FT (Wortsman et al. 2022): fine-tune a candidate from the production model, then serve
/// (1 − α)·production + α·candidate. Costs one full fine-tune; the interpolation is free.
/// </summary>
public sealed class WiseStrategy(WiseOptions options) : IContinualStrategy
{
    /// <inheritdoc />
    public string Name => "wise";

    /// <inheritdoc />
    public (ModelBundle Model, AdaptationStats Stats) Adapt(ModelBundle current, ImageDataset labelled, AdaptationContext context, CancellationToken ct = default)
    {
        var (candidate, stats) = DenseStrategy.FineTune("full", current, labelled, context, ct);
        var sw = Stopwatch.StartNew();
        ParameterOps.Interpolate(candidate, current, candidate, options.Alpha);
        return (candidate, stats with { TrainSeconds = stats.TrainSeconds + sw.Elapsed.TotalSeconds, Detail = $"alpha {options.Alpha}" });
    }

    /// <inheritdoc />
    public long[] Predict(ModelBundle model, Tensor images) => ParameterOps.PredictWithClassifier(model, images);

    /// <inheritdoc />
    public void Dispose()
    {
    }
}

/// <summary>TIES-merging options (the paper's defaults).</summary>
public sealed record TiesOptions
{
    /// <summary>Fraction of each task vector kept by magnitude (paper: top 20%).</summary>
    public double KeepFraction { get; init; } = 0.2;

    /// <summary>Scaling of the merged vector (paper: λ = 1 works without validation).</summary>
    public double Lambda { get; init; } = 1.0;
}

/// <summary>
/// TIES-merging: each regime's labelled data fine-tunes a copy of the base model (full, the same recipe as
/// <c>full</c>); its task vector θ_t − θ_base is kept, and the served model is θ_base + TIES(τ_1 … τ_t).
/// Training-free at merge time; one fine-tune per regime.
/// </summary>
public sealed class TiesStrategy(TiesOptions options) : IContinualStrategy
{
    private readonly List<Dictionary<string, Tensor>> taskVectors = [];

    /// <inheritdoc />
    public string Name => "ties";

    /// <inheritdoc />
    public (ModelBundle Model, AdaptationStats Stats) Adapt(ModelBundle current, ImageDataset labelled, AdaptationContext context, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        var (tuned, stats) = DenseStrategy.FineTune("full", context.BaseModel, labelled, context, ct);
        var sw = Stopwatch.StartNew();
        try
        {
            taskVectors.Add(ParameterOps.Difference(tuned, context.BaseModel));
            var merged = ParameterOps.Ties(taskVectors, options.KeepFraction, options.Lambda);
            var result = context.BaseModel.Clone(tuned.Device);
            result.DetachReadout(); // the merged classifier serves
            ParameterOps.Add(result, merged);
            foreach (var t in merged.Values) t.Dispose();
            result.SetInfo(result.Info with { Adaptations = current.Info.Adaptations + 1, Notes = $"ties of {taskVectors.Count} task vectors" });
            return (result, stats with
            {
                TrainSeconds = stats.TrainSeconds + sw.Elapsed.TotalSeconds,
                OptimizerStateBytes = stats.OptimizerStateBytes + taskVectors.Sum(t => t.Values.Sum(v => v.numel() * 4)),
                Detail = $"{taskVectors.Count} task vectors, keep {options.KeepFraction}, lambda {options.Lambda}",
            });
        }
        finally
        {
            tuned.Dispose();
        }
    }

    /// <inheritdoc />
    public long[] Predict(ModelBundle model, Tensor images) => ParameterOps.PredictWithClassifier(model, images);

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var t in taskVectors) foreach (var v in t.Values) v.Dispose();
        taskVectors.Clear();
    }
}

/// <summary>
/// Conventional retraining, the cost anchor: a fresh model trained from scratch with the base model's recipe
/// (<see cref="BaseTrainer"/>: Adam 1e-3, batch 128, the same epochs and seed) on the original training data
/// plus every labelled regime so far.
/// </summary>
public sealed class RetrainStrategy : IContinualStrategy
{
    /// <inheritdoc />
    public string Name => "retrain";

    /// <inheritdoc />
    public (ModelBundle Model, AdaptationStats Stats) Adapt(ModelBundle current, ImageDataset labelled, AdaptationContext context, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(current);
        ArgumentNullException.ThrowIfNull(labelled);
        ArgumentNullException.ThrowIfNull(context);
        var original = context.OriginalTrain ?? throw new InvalidOperationException("retrain needs the original training data");
        var sw = Stopwatch.StartNew();
        var n = context.Budget.RetrainOriginalSize > 0 ? Math.Min(context.Budget.RetrainOriginalSize, original.Count) : original.Count;
        var parts = new List<ImageDataset> { original.Take(n) };
        parts.AddRange(context.EarlierRegimes);
        parts.Add(labelled);
        using var images = cat(parts.Select(p => p.Images).ToList(), 0);
        using var labels = cat(parts.Select(p => p.Labels).ToList(), 0);
        parts[0].Dispose();
        // Shuffled once so the base recipe's "first N" and its epoch permutations see every source.
        using var joined = new ImageDataset(images.clone(), labels.clone());
        using var data = joined.Shuffle(context.Seed);
        var recipe = new BaseTrainingOptions
        {
            Architecture = current.Info.Architecture,
            Epochs = context.Budget.RetrainEpochs,
            TrainSize = 0,
            Seed = context.Seed,
            Device = context.Device,
        };
        var model = BaseTrainer.Train(data, recipe, null, ct);
        model.SetInfo(model.Info with { Adaptations = current.Info.Adaptations + 1, Notes = $"retrained from scratch on {data.Count} images" });
        var perEpoch = (data.Count + recipe.BatchSize - 1) / recipe.BatchSize;
        return (model, new AdaptationStats
        {
            TrainSeconds = sw.Elapsed.TotalSeconds,
            SamplePasses = (long)data.Count * recipe.Epochs,
            SelectedFraction = 1.0,
            UpdatedFractionPerStep = 1.0,
            OptimizerStateBytes = model.Info.ParamsTotal * 8,
            Steps = perEpoch * recipe.Epochs,
            Detail = $"{data.Count} training images",
        });
    }

    /// <inheritdoc />
    public long[] Predict(ModelBundle model, Tensor images) => ParameterOps.PredictWithClassifier(model, images);

    /// <inheritdoc />
    public void Dispose()
    {
    }
}
