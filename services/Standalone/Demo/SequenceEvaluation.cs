using Pipeline.ML.Benchmarks;
using Pipeline.ML.Data;
using Pipeline.ML.Evaluation;
using Pipeline.ML.Models;
using Pipeline.ML.Strategies;

namespace Pipeline.Standalone.Demo;

/// <summary>The continual demo's measurements on unseen data, and its retrain reference (bench continual's metrics).</summary>
internal static class SequenceEvaluation
{
    /// <summary>A model's accuracy on every regime's unseen rows (0 = original).</summary>
    public static double[] Row(ModelBundle model, IReadOnlyList<RegimeData> regimes) =>
        [.. regimes.Select(r => Evaluator.Evaluate(model, r.Unseen).Accuracy)];

    /// <summary>
    /// bench continual's <c>retrain</c> after each event: a fresh model with the base recipe on the base model's
    /// training images plus every labelled row streamed up to that event (distinct rows), through the same strategy.
    /// </summary>
    public static SequenceRetrain Retrain(
        FashionMnistSplits splits, ModelBundle baseModel, IReadOnlyList<RegimeData> regimes, IReadOnlyList<double> baseAcc, int seed,
        Action<string> say, CancellationToken ct)
    {
        var recipe = DemoBaseModel.Recipe(seed);
        var seen = regimes.Select(r => r.Seen()).ToList();
        var matrix = new List<IReadOnlyList<double>>();
        long passes = 0;
        double seconds = 0;
        try
        {
            using var strategy = ContinualStrategies.Create("retrain", baseModel.Info.Classes.Length);
            for (var t = 1; t < regimes.Count; t++)
            {
                var context = new AdaptationContext
                {
                    Seed = seed, Index = t - 1, BaseModel = baseModel, Reference = seen[0], OriginalTrain = splits.Train,
                    EarlierRegimes = seen.Take(t).ToList(),
                    Budget = new AdaptationBudget { RetrainEpochs = recipe.Epochs, RetrainOriginalSize = recipe.TrainSize },
                };
                var (model, stats) = strategy.Adapt(baseModel, seen[t], context, ct);
                using (model)
                {
                    matrix.Add(Row(model, regimes));
                }

                passes += stats.SamplePasses;
                seconds += stats.TrainSeconds;
                say($"retrain reference after {regimes[t].Name}: {string.Join(" / ", matrix[^1].Select(a => a.ToString("F3", System.Globalization.CultureInfo.InvariantCulture)))} ({stats.TrainSeconds:F0} s)");
            }
        }
        finally
        {
            seen.ForEach(s => s.Dispose());
        }

        var summary = ContinualMetrics.Compute(matrix, baseAcc);
        return new SequenceRetrain
        {
            AccMatrix = matrix, AvgAcc = summary.AvgAcc, Forgetting = summary.Forgetting, MaxForgetting = summary.MaxForgetting,
            Bwt = summary.Bwt, SamplePasses = passes, TrainSeconds = seconds,
        };
    }
}
