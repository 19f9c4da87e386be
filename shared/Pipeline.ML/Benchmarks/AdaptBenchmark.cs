using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;
using Pipeline.ML.Data;
using Pipeline.ML.Evaluation;
using Pipeline.ML.Models;
using Pipeline.ML.Sensitivity;
using Pipeline.ML.Training;
using Pipeline.ML.Tuning;

namespace Pipeline.ML.Benchmarks;

/// <summary>The fixed protocol of one budget. Identical for every method.</summary>
public sealed record BenchmarkBudget
{
    /// <summary>"quick" or "full".</summary>
    [JsonPropertyName("name")] public required string Name { get; init; }

    /// <summary>Training images for the base model (0 = the whole 55k training split).</summary>
    [JsonPropertyName("base_train_size")] public int BaseTrainSize { get; init; }

    /// <summary>Base-model epochs.</summary>
    [JsonPropertyName("base_epochs")] public int BaseEpochs { get; init; }

    /// <summary>Labelled shifted samples each method adapts on.</summary>
    [JsonPropertyName("adapt_size")] public int AdaptSize { get; init; }

    /// <summary>Optimizer steps per method (all phases together).</summary>
    [JsonPropertyName("steps")] public int Steps { get; init; }

    /// <summary>Mini-batch size of tuning.</summary>
    [JsonPropertyName("batch_size")] public int BatchSize { get; init; }

    /// <summary>Test images evaluated (shifted and original each).</summary>
    [JsonPropertyName("eval_size")] public int EvalSize { get; init; }

    /// <summary>Quick: under 5 minutes on 2 cores including base training.</summary>
    public static BenchmarkBudget Quick { get; } = new()
    {
        Name = "quick", BaseTrainSize = 20000, BaseEpochs = 2, AdaptSize = 1000, Steps = 100, BatchSize = 64, EvalSize = 2000,
    };

    /// <summary>Full: the README/docs table.</summary>
    public static BenchmarkBudget Full { get; } = new()
    {
        Name = "full", BaseTrainSize = 0, BaseEpochs = 5, AdaptSize = 2000, Steps = 300, BatchSize = 64, EvalSize = 8000,
    };

    /// <summary>By name.</summary>
    public static BenchmarkBudget Parse(string name) => name?.Trim().ToLowerInvariant() switch
    {
        "quick" => Quick,
        "full" => Full,
        _ => throw new ArgumentException($"unknown budget '{name}' (quick|full)", nameof(name)),
    };
}

/// <summary>Inputs of <c>bench adapt</c>.</summary>
public sealed record AdaptBenchmarkOptions
{
    /// <summary>Scenario name (a label only when shifted IDX files are given).</summary>
    public required string Scenario { get; init; }

    /// <summary>Methods in order: full, head, random, mist.</summary>
    public IReadOnlyList<string> Methods { get; init; } = ["full", "head", "random", "mist"];

    /// <summary>Seed of everything.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>"quick" or "full".</summary>
    public string Budget { get; init; } = "quick";

    /// <summary>User IDX images of shifted data (with <see cref="ShiftedLabels"/>).</summary>
    public string? ShiftedImages { get; init; }

    /// <summary>User IDX labels of shifted data.</summary>
    public string? ShiftedLabels { get; init; }

    /// <summary>Fashion-MNIST directory (default <see cref="FashionMnist.DefaultDirectory"/>).</summary>
    public string? DataDirectory { get; init; }

    /// <summary>Cache directory for base models (default <see cref="BaseTrainer.DefaultCacheDirectory"/>).</summary>
    public string? CacheDirectory { get; init; }

    /// <summary>Architecture of the base model.</summary>
    public string Architecture { get; init; } = "cnn-small";

    /// <summary>"auto", "cpu" or "cuda".</summary>
    public string Device { get; init; } = "auto";

    /// <summary>A user's TorchScript model (with <see cref="ManifestPath"/>) instead of a built-in architecture.</summary>
    public string? ModelPath { get; init; }

    /// <summary>The manifest of <see cref="ModelPath"/>.</summary>
    public string? ManifestPath { get; init; }

    /// <summary>Write each adapted model here as METHOD.pt (+ METHOD.json); user models only.</summary>
    public string? SaveAdaptedDirectory { get; init; }

    /// <summary>Labelled original-distribution rows (CSV with a header) for a model that does not take Fashion-MNIST.</summary>
    public string? OriginalCsv { get; init; }

    /// <summary>Labelled shifted rows (CSV), split into the adaptation set and the shifted test set.</summary>
    public string? ShiftedCsv { get; init; }

    /// <summary>The label column of the CSV files (class name or index).</summary>
    public string? LabelColumn { get; init; }

    /// <summary>
    /// Share of the adaptation set made of class-balanced reference (original) rows, as the services' replay
    /// (ScoringService ReplayFraction, 0.3 there); 0: the shifted rows alone. The same set for every method.
    /// </summary>
    public double ReplayFraction { get; init; }

    /// <summary>Replaces the named budget's protocol (tests and experiments only; the CLI never sets it).</summary>
    public BenchmarkBudget? BudgetOverride { get; init; }
}

/// <summary>Progress of the benchmark: a stage ("data", "base", "evaluate", a method name) and its position.</summary>
public sealed record BenchmarkProgress(string Stage, string Detail, double Current, double Total);

#pragma warning disable CS1591
public sealed record BenchmarkModelInfo(
    [property: JsonPropertyName("architecture")] string Architecture,
    [property: JsonPropertyName("params_total")] long ParamsTotal);

public sealed record BenchmarkBaseResult
{
    [JsonPropertyName("acc_original")] public double AccOriginal { get; init; }
    [JsonPropertyName("acc_shifted")] public double AccShifted { get; init; }
    [JsonPropertyName("ece_original")] public double EceOriginal { get; init; }
    [JsonPropertyName("ece_shifted")] public double EceShifted { get; init; }
    [JsonPropertyName("from_cache")] public bool FromCache { get; init; }
    [JsonPropertyName("train_seconds")] public double TrainSeconds { get; init; }
}

public sealed record BenchmarkMethodResult
{
    [JsonPropertyName("method")] public required string Method { get; init; }
    [JsonPropertyName("acc_original")] public double AccOriginal { get; init; }
    [JsonPropertyName("acc_shifted")] public double AccShifted { get; init; }
    [JsonPropertyName("forgetting")] public double Forgetting { get; init; }
    [JsonPropertyName("gain_shifted")] public double GainShifted { get; init; }
    [JsonPropertyName("selected_fraction")] public double SelectedFraction { get; init; }
    [JsonPropertyName("updated_fraction_per_step")] public double UpdatedFractionPerStep { get; init; }
    [JsonPropertyName("steps")] public int Steps { get; init; }
    [JsonPropertyName("train_seconds")] public double TrainSeconds { get; init; }
    [JsonPropertyName("optimizer_state_bytes")] public long OptimizerStateBytes { get; init; }
    [JsonPropertyName("device")] public required string Device { get; init; }
    [JsonPropertyName("mean_acc")] public double MeanAcc { get; init; }
    [JsonPropertyName("ece_original")] public double EceOriginal { get; init; }
    [JsonPropertyName("ece_shifted")] public double EceShifted { get; init; }
    [JsonPropertyName("per_class_acc_shifted")] public double[] PerClassAccShifted { get; init; } = [];
    [JsonPropertyName("changed_fraction_total")] public double ChangedFractionTotal { get; init; }
    [JsonPropertyName("learning_rate")] public double LearningRate { get; init; }
    [JsonPropertyName("score_seconds")] public double ScoreSeconds { get; init; }
    [JsonPropertyName("latency_ms_per_batch64")] public double LatencyMsPerBatch64 { get; init; }
    [JsonPropertyName("updated_fraction_max")] public double UpdatedFractionMax { get; init; }
}

public sealed record AdaptBenchmarkResult
{
    [JsonPropertyName("dataset")] public string Dataset { get; init; } = "fashion-mnist";
    [JsonPropertyName("scenario")] public required string Scenario { get; init; }
    [JsonPropertyName("seed")] public int Seed { get; init; }
    [JsonPropertyName("budget")] public required string Budget { get; init; }
    [JsonPropertyName("model")] public required BenchmarkModelInfo Model { get; init; }
    [JsonPropertyName("base")] public required BenchmarkBaseResult Base { get; init; }
    [JsonPropertyName("results")] public List<BenchmarkMethodResult> Results { get; init; } = [];
    [JsonPropertyName("protocol")] public required BenchmarkBudget Protocol { get; init; }
    [JsonPropertyName("shifted_source")] public required string ShiftedSource { get; init; }
    [JsonPropertyName("total_seconds")] public double TotalSeconds { get; init; }
    [JsonPropertyName("replay_fraction")] public double ReplayFraction { get; init; }
    [JsonPropertyName("replay_rows")] public int ReplayRows { get; init; }
    [JsonPropertyName("reference_rows")] public int ReferenceRows { get; init; }

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    public static AdaptBenchmarkResult FromJson(string json) =>
        JsonSerializer.Deserialize<AdaptBenchmarkResult>(json, JsonOptions) ?? throw new InvalidDataException("empty benchmark JSON");
}
#pragma warning restore CS1591

/// <summary>
/// <c>bench adapt</c>: train (or reuse the cached) base model on original Fashion-MNIST, shift the data,
/// adapt each method on the same labelled shifted adaptation set with the same step budget, and evaluate
/// on held-out shifted and original test data.
/// </summary>
public static partial class AdaptBenchmark
{
    /// <summary>Runs the benchmark.</summary>
    public static AdaptBenchmarkResult Run(AdaptBenchmarkOptions options, IProgress<BenchmarkProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var budget = options.BudgetOverride ?? BenchmarkBudget.Parse(options.Budget);
        var methods = options.Methods.Select(m => m.Trim().ToLowerInvariant()).Where(m => m.Length > 0).ToList();
        foreach (var m in methods)
        {
            if (!KnownMethods.Contains(m)) throw new ArgumentException($"unknown method '{m}'", nameof(options));
        }
        var total = Stopwatch.StartNew();

        // A user's model is loaded (and checked against its manifest) before any data, so a bad file fails fast.
        using var userModel = options.ModelPath is null ? null
            : ModelBundle.FromTorchScript(options.ModelPath, ModelManifest.Load(options.ManifestPath
                ?? throw new ArgumentException("--model needs --manifest", nameof(options))), ComputeDevice.Resolve(options.Device));
        progress?.Report(new BenchmarkProgress("data", "loading data", 0, 1));
        using var data = BenchmarkData.Load(options, budget, userModel?.Info);
        var (adapt, originalTest, shiftedTest) = (data.Adapt, data.OriginalTest, data.ShiftedTest);
        progress?.Report(new BenchmarkProgress("data", "ready", 1, 1));

        var baseWatch = Stopwatch.StartNew();
        ModelBundle baseModel;
        var fromCache = false;
        if (userModel is not null)
        {
            baseModel = userModel.Clone();
        }
        else
        {
            var baseOptions = new BaseTrainingOptions
            {
                Architecture = options.Architecture,
                Epochs = budget.BaseEpochs,
                TrainSize = budget.BaseTrainSize,
                Seed = options.Seed,
                Device = options.Device,
            };
            var trainProgress = progress is null ? null
                : new SyncProgress<TrainingProgress>(p => progress.Report(new BenchmarkProgress("base", $"epoch {p.Epoch} loss {p.Loss:F3}", p.Step, p.TotalSteps)));
            (baseModel, fromCache) = BaseTrainer.TrainOrLoad(data.Splits!.Train, baseOptions, options.CacheDirectory, trainProgress, cancellationToken);
        }
        using var baseOwned = baseModel;
        var baseSeconds = baseWatch.Elapsed.TotalSeconds;
        progress?.Report(new BenchmarkProgress("base", userModel is not null ? "loaded" : fromCache ? "loaded from cache" : "trained", 1, 1));

        var baseOrig = Evaluator.Evaluate(baseModel, originalTest);
        var baseShift = Evaluator.Evaluate(baseModel, shiftedTest);
        var result = new AdaptBenchmarkResult
        {
            Scenario = options.Scenario,
            Seed = options.Seed,
            Budget = budget.Name,
            Model = new BenchmarkModelInfo(baseModel.Info.Architecture, baseModel.Info.ParamsTotal),
            Base = new BenchmarkBaseResult
            {
                AccOriginal = baseOrig.Accuracy,
                AccShifted = baseShift.Accuracy,
                EceOriginal = baseOrig.Ece,
                EceShifted = baseShift.Ece,
                FromCache = fromCache,
                TrainSeconds = fromCache || userModel is not null ? 0 : baseSeconds,
            },
            Protocol = budget,
            ShiftedSource = data.ShiftedSource,
            Dataset = data.Dataset,
            ReplayFraction = options.ReplayFraction,
            ReplayRows = data.ReplayRows,
            ReferenceRows = data.Reference.Count,
        };

        foreach (var method in methods)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (method is not (TuningStrategies.Full or TuningStrategies.Head))
            {
                result.Results.Add(RunStrategy(method, baseModel, adapt, data.Reference, data.Splits, budget, options, originalTest, shiftedTest,
                    baseOrig.Accuracy, baseShift.Accuracy, progress, cancellationToken));
                continue;
            }
            var tuning = new TuningOptions { Steps = budget.Steps, BatchSize = budget.BatchSize, Seed = options.Seed, Device = options.Device };
            SensitivityMask? mask = null;
            double scoreSeconds = 0;
            if (method == TuningStrategies.Mist)
            {
                progress?.Report(new BenchmarkProgress(method, "scoring MI sensitivity", 0, budget.Steps));
                var sw = Stopwatch.StartNew();
                mask = SensitivityScorer.Score(baseModel, adapt,
                    new ScoringOptions { SelectRate = tuning.SelectRate, Seed = options.Seed, Device = options.Device }, null, cancellationToken);
                scoreSeconds = sw.Elapsed.TotalSeconds;
            }
            else if (method == TuningStrategies.Random)
            {
                mask = SensitivityScorer.RandomMask(baseModel, tuning.SelectRate, options.Seed);
            }
            using var maskOwned = mask;
            var stepProgress = progress is null ? null
                : new SyncProgress<TuningStep>(s => progress.Report(new BenchmarkProgress(method, $"{s.Phase} loss {s.Loss:F3}", s.Step, s.TotalSteps)));
            using var tuned = Tuner.Tune(method, baseModel, mask, adapt, tuning, stepProgress, cancellationToken);
            progress?.Report(new BenchmarkProgress(method, "evaluating", budget.Steps, budget.Steps));
            var orig = Evaluator.Evaluate(tuned.Model, originalTest);
            var shift = Evaluator.Evaluate(tuned.Model, shiftedTest);
            var latency = Evaluator.MeasureLatency(tuned.Model, 64, 10);
            if (options.SaveAdaptedDirectory is { } saveDir) SaveAdapted(tuned.Model, saveDir, method);
            result.Results.Add(new BenchmarkMethodResult
            {
                Method = method,
                AccOriginal = orig.Accuracy,
                AccShifted = shift.Accuracy,
                Forgetting = baseOrig.Accuracy - orig.Accuracy,
                GainShifted = shift.Accuracy - baseShift.Accuracy,
                SelectedFraction = tuned.Stats.SelectedFraction,
                UpdatedFractionPerStep = tuned.Stats.UpdatedFractionPerStep,
                Steps = tuned.Stats.Steps,
                TrainSeconds = tuned.Stats.TrainSeconds,
                OptimizerStateBytes = tuned.Stats.OptimizerStateBytes,
                Device = tuned.Stats.Device,
                MeanAcc = (orig.Accuracy + shift.Accuracy) / 2,
                EceOriginal = orig.Ece,
                EceShifted = shift.Ece,
                PerClassAccShifted = shift.PerClassAccuracy,
                ChangedFractionTotal = tuned.Stats.ChangedFractionTotal,
                LearningRate = tuned.Stats.LearningRate,
                ScoreSeconds = scoreSeconds,
                LatencyMsPerBatch64 = latency.MsPerBatch,
                UpdatedFractionMax = tuned.Stats.UpdatedFractionMax,
            });
            progress?.Report(new BenchmarkProgress(method, "done", budget.Steps, budget.Steps));
        }
        return result with { TotalSeconds = total.Elapsed.TotalSeconds };
    }

    /// <summary>
    /// Writes an adapted model as <c>DIR/METHOD.pt</c>, TorchScript that PyTorch's <c>torch.jit.load</c> reads (a
    /// built-in through its template), <c>DIR/METHOD.json</c>, its manifest (a user's model keeps its manifest:
    /// adaptation keeps names and shapes), and,
    /// when the method leaves a readout (mist-ridge, mist-proto, ridge, prototype), <c>DIR/METHOD.readout.npz</c>:
    /// tools/byom/load_adapted.py loads the pair and predicts as the service does.
    /// </summary>
    public static void SaveAdapted(ModelBundle model, string directory, string method)
    {
        ArgumentNullException.ThrowIfNull(model);
        Directory.CreateDirectory(directory);
        model.ExportTorchScript(Path.Combine(directory, method + ".pt"));
        File.WriteAllText(Path.Combine(directory, method + ".json"), model.ExportManifest().ToJson());
    }
}

/// <summary>An IProgress that reports synchronously on the calling thread (no SynchronizationContext hop).</summary>
public sealed class SyncProgress<T> : IProgress<T>
{
    private readonly Action<T>? handler;

    /// <summary>Wraps a handler.</summary>
    public SyncProgress(Action<T>? handler) => this.handler = handler;

    /// <summary>Wraps another progress (null = ignore).</summary>
    public SyncProgress(IProgress<T>? inner) => handler = inner is null ? null : inner.Report;

    /// <inheritdoc />
    public void Report(T value) => handler?.Invoke(value);
}
