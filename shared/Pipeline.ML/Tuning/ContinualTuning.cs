using Pipeline.ML.Data;
using Pipeline.ML.Models;
using Pipeline.ML.Strategies;

namespace Pipeline.ML.Tuning;

/// <summary>
/// One adaptation with a strategy of <see cref="ContinualStrategies"/> behind <see cref="Tuner.Tune"/>, so the
/// tuning service's <c>Tuning:Strategy</c> can select it. The strategy's own state (Fisher, task vectors) lives for this
/// adaptation only (MIST's readout and frozen elements live in the model and carry over); the reference (original) data is Fashion-MNIST's reference holdout when the files are present,
/// otherwise the adaptation set itself. The epochs follow the tuner's steps: ⌈steps · batch / samples⌉.
/// </summary>
internal static class ContinualTuning
{
    public static TuningResult Tune(string strategy, ModelBundle baseModel, ImageDataset adaptation, TuningOptions o, CancellationToken ct)
    {
        using var s = ContinualStrategies.Create(strategy, baseModel.Info.Classes.Length);
        FashionMnistSplits? splits = null;
        ImageDataset? reference = null;
        try
        {
            if (FashionMnist.IsAvailable())
            {
                splits = FashionMnist.LoadSplits(o.Seed);
                reference = splits.ReferenceHoldout.Take(1000);
            }
            var batch = Math.Max(1, Math.Min(o.BatchSize, adaptation.Count));
            var context = new AdaptationContext
            {
                Seed = o.Seed,
                Budget = new AdaptationBudget { Epochs = Math.Max(1, (int)Math.Ceiling(o.Steps * (double)batch / adaptation.Count)), BatchSize = batch },
                BaseModel = baseModel,
                Reference = reference ?? adaptation,
                OriginalTrain = splits?.Train,
                Device = o.Device,
            };
            if (strategy == "retrain" && splits is null)
                throw new InvalidOperationException($"retrain needs the original training data (Fashion-MNIST at {FashionMnist.DefaultDirectory})");
            var (model, stats) = s.Adapt(baseModel, adaptation, context, ct);
            return new TuningResult(model, new TuningStats
            {
                Strategy = strategy,
                SelectedFraction = stats.SelectedFraction,
                UpdatedFractionPerStep = stats.UpdatedFractionPerStep,
                Steps = stats.Steps,
                TrainSeconds = stats.TrainSeconds,
                OptimizerStateBytes = stats.OptimizerStateBytes,
                Device = ComputeDevice.Describe(model.Device),
                FinalLoss = double.NaN,
            });
        }
        finally
        {
            reference?.Dispose();
            splits?.Dispose();
        }
    }
}
