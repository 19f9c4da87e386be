using Pipeline.ML.Data;
using Pipeline.ML.Evaluation;
using Pipeline.ML.Models;
using Pipeline.ML.Strategies;

namespace Pipeline.ML.Benchmarks;

public static partial class AdaptBenchmark
{
    /// <summary>Methods <c>bench adapt</c> accepts: full and head through the tuner, the rest as continual strategies.</summary>
    public static IReadOnlyList<string> KnownMethods { get; } = ContinualStrategies.All;

    // One adaptation of a continual strategy under the budget's protocol: the same adaptation set and about the
    // same number of labelled-sample passes as the tuner's steps × batch (rounded up to whole epochs).
    private static BenchmarkMethodResult RunStrategy(string method, ModelBundle baseModel, ImageDataset adapt, ImageDataset reference, FashionMnistSplits? splits,
        BenchmarkBudget budget, AdaptBenchmarkOptions options, ImageDataset originalTest, ImageDataset shiftedTest,
        double baseOrig, double baseShift, IProgress<BenchmarkProgress>? progress, CancellationToken ct)
    {
        progress?.Report(new BenchmarkProgress(method, "adapting", 0, 1));
        using var strategy = ContinualStrategies.Create(method, baseModel.Info.Classes.Length);
        // The reference (original-distribution) data: BenchmarkData.Reference (documented in docs/ml.md).
        var epochs = Math.Max(2, (int)Math.Ceiling(budget.Steps * (double)budget.BatchSize / adapt.Count));
        var context = new AdaptationContext
        {
            Seed = options.Seed,
            Budget = new AdaptationBudget { Epochs = epochs, BatchSize = budget.BatchSize, RetrainEpochs = budget.BaseEpochs, RetrainOriginalSize = budget.BaseTrainSize },
            BaseModel = baseModel,
            Reference = reference,
            OriginalTrain = splits?.Train,
            Device = options.Device,
        };
        var (model, stats) = strategy.Adapt(baseModel, adapt, context, ct);
        using var tuned = model;
        if (options.SaveAdaptedDirectory is { } saveDir) SaveAdapted(tuned, saveDir, method);
        progress?.Report(new BenchmarkProgress(method, "evaluating", 1, 1));
        var accOrig = ContinualBenchmark.Accuracy(strategy.Predict(tuned, originalTest.Images), originalTest);
        var accShift = ContinualBenchmark.Accuracy(strategy.Predict(tuned, shiftedTest.Images), shiftedTest);
        // Calibration, per-class figures and latency come from the served model (for mist-ridge: through its readout).
        var orig = Evaluator.Evaluate(tuned, originalTest);
        var shift = Evaluator.Evaluate(tuned, shiftedTest);
        var latency = Evaluator.MeasureLatency(tuned, 64, 10);
        progress?.Report(new BenchmarkProgress(method, "done", 1, 1));
        return new BenchmarkMethodResult
        {
            Method = method,
            AccOriginal = accOrig,
            AccShifted = accShift,
            Forgetting = baseOrig - accOrig,
            GainShifted = accShift - baseShift,
            SelectedFraction = stats.SelectedFraction,
            UpdatedFractionPerStep = stats.UpdatedFractionPerStep,
            Steps = stats.Steps,
            TrainSeconds = stats.TrainSeconds,
            OptimizerStateBytes = stats.OptimizerStateBytes,
            Device = ComputeDevice.Describe(tuned.Device),
            MeanAcc = (accOrig + accShift) / 2,
            EceOriginal = orig.Ece,
            EceShifted = shift.Ece,
            PerClassAccShifted = shift.PerClassAccuracy,
            LatencyMsPerBatch64 = latency.MsPerBatch,
        };
    }
}
