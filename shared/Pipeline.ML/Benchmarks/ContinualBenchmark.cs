using System.Diagnostics;
using System.Text.Json.Serialization;
using Pipeline.ML.Data;
using Pipeline.ML.Models;
using Pipeline.ML.Strategies;
using Pipeline.ML.Training;

namespace Pipeline.ML.Benchmarks;

/// <summary>The fixed protocol of <c>bench continual</c> for a budget name. Identical for every method.</summary>
public sealed record ContinualBudget
{
    /// <summary>"quick" or "full".</summary>
    [JsonPropertyName("name")] public required string Name { get; init; }

    /// <summary>Training images of the base model (0 = the whole 55k split); <c>retrain</c> uses the same.</summary>
    [JsonPropertyName("base_train_size")] public int BaseTrainSize { get; init; }

    /// <summary>Base-model epochs (and <c>retrain</c>'s).</summary>
    [JsonPropertyName("base_epochs")] public int BaseEpochs { get; init; }

    /// <summary>Passes over the labelled data per adaptation.</summary>
    [JsonPropertyName("epochs")] public int Epochs { get; init; }

    /// <summary>Labelled samples per step.</summary>
    [JsonPropertyName("batch_size")] public int BatchSize { get; init; }

    /// <summary>Held-out test images per regime (and of the original distribution).</summary>
    [JsonPropertyName("eval_size")] public int EvalSize { get; init; }

    /// <summary>Labelled original-distribution reference images (readout initialisation, EWC Fisher, LoRA's shift).</summary>
    [JsonPropertyName("reference_size")] public int ReferenceSize { get; init; }

    /// <summary>Quick: well under 10 minutes on the shared 2-core machine for all methods.</summary>
    public static ContinualBudget Quick { get; } = new()
    {
        Name = "quick", BaseTrainSize = 10000, BaseEpochs = 2, Epochs = 3, BatchSize = 32, EvalSize = 1000, ReferenceSize = 1000,
    };

    /// <summary>Full: the README table (the code's 20 MI epochs).</summary>
    public static ContinualBudget Full { get; } = new()
    {
        Name = "full", BaseTrainSize = 0, BaseEpochs = 5, Epochs = 20, BatchSize = 32, EvalSize = 4000, ReferenceSize = 2000,
    };

    /// <summary>By name.</summary>
    public static ContinualBudget Parse(string name) => name?.Trim().ToLowerInvariant() switch
    {
        "quick" => Quick,
        "full" => Full,
        _ => throw new ArgumentException($"unknown budget '{name}' (quick|full)", nameof(name)),
    };
}

/// <summary>A user's own shifted regime: IDX images and labels.</summary>
public sealed record UserRegime(string Name, string Images, string Labels)
{
    /// <summary>Parses NAME=IMAGES:LABELS.</summary>
    public static UserRegime Parse(string spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var eq = spec.IndexOf('=', StringComparison.Ordinal);
        var colon = eq < 0 ? -1 : spec.IndexOf(':', eq + 1);
        if (eq <= 0 || colon < 0 || colon == eq + 1 || colon == spec.Length - 1)
            throw new ArgumentException($"--regime '{spec}': expected NAME=IMAGES.idx.gz:LABELS.idx.gz");
        return new UserRegime(spec[..eq], spec[(eq + 1)..colon], spec[(colon + 1)..]);
    }
}

/// <summary>Inputs of <c>bench continual</c>.</summary>
public sealed record ContinualBenchmarkOptions
{
    /// <summary>Built-in scenarios in order (DriftScenario names).</summary>
    public IReadOnlyList<string> Sequence { get; init; } = ["rotate-15", "rotate-30", "noise-0.3", "contrast-0.3"];

    /// <summary>User regimes appended after <see cref="Sequence"/>.</summary>
    public IReadOnlyList<UserRegime> UserRegimes { get; init; } = [];

    /// <summary>Methods (see <see cref="ContinualStrategies.All"/>).</summary>
    public IReadOnlyList<string> Methods { get; init; } = ContinualStrategies.All;

    /// <summary>Replay buffer size (0 = none); the same buffer for every method.</summary>
    public int Replay { get; init; }

    /// <summary>Labelled rows per regime.</summary>
    public int Labels { get; init; } = 1000;

    /// <summary>Seed of everything.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>"quick" or "full".</summary>
    public string Budget { get; init; } = "quick";

    /// <summary>Fashion-MNIST directory.</summary>
    public string? DataDirectory { get; init; }

    /// <summary>Base-model cache directory.</summary>
    public string? CacheDirectory { get; init; }

    /// <summary>Architecture of the base model.</summary>
    public string Architecture { get; init; } = "cnn-small";

    /// <summary>"auto", "cpu" or "cuda".</summary>
    public string Device { get; init; } = "auto";

    /// <summary>Replaces the named budget (tests only).</summary>
    public ContinualBudget? BudgetOverride { get; init; }

    /// <summary>MIST's per-tensor selection share for <c>mist</c>, <c>mist-ridge</c> and <c>random</c> (null: the strategy's 0.05).</summary>
    public double? SelectRate { get; init; }

    /// <summary>
    /// Share of each adaptation set made of class-balanced reference rows, as the services' replay and
    /// <c>bench adapt --replay</c> (0.3 there); 0: none. The same sets for every method; not with <see cref="Replay"/>.
    /// </summary>
    public double ReplayFraction { get; init; }

    /// <summary>A user's TorchScript model (with <see cref="ManifestPath"/>) on CSV regimes instead of a built-in model on Fashion-MNIST.</summary>
    public string? ModelPath { get; init; }

    /// <summary>The manifest of <see cref="ModelPath"/>.</summary>
    public string? ManifestPath { get; init; }

    /// <summary>Labelled original rows of the user's model (CSV): the original test rows, then the reference rows.</summary>
    public string? OriginalCsv { get; init; }

    /// <summary>The user's model's regimes in order (CSV), instead of <see cref="Sequence"/> and <see cref="UserRegimes"/>.</summary>
    public IReadOnlyList<CsvRegime> CsvRegimes { get; init; } = [];

    /// <summary>The label column of the CSV files.</summary>
    public string? LabelColumn { get; init; }

    /// <summary>
    /// The user's model's own training recipe (rows, epochs). <c>retrain</c> cannot rebuild a user's model from
    /// scratch here, so its cost reference is counted from the recipe instead: per adaptation, (rows + the labelled
    /// rows so far) × epochs, as <c>retrain</c> counts its passes.
    /// </summary>
    public (int Rows, int Epochs)? RetrainRecipe { get; init; }
}

/// <summary>
/// <c>bench continual</c>: every method starts from the same base model and adapts to each regime in turn from
/// its own previous result, with the same labelled rows per regime; after each adaptation it is evaluated on
/// held-out test data of the original distribution and of every regime (seen or not).
/// </summary>
public static class ContinualBenchmark
{
    /// <summary>Runs the benchmark.</summary>
    public static ContinualBenchmarkResult Run(ContinualBenchmarkOptions options, IProgress<BenchmarkProgress>? progress = null,
        CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var budget = options.BudgetOverride ?? ContinualBudget.Parse(options.Budget);
        var methods = options.Methods.Select(m => m.Trim().ToLowerInvariant()).Where(m => m.Length > 0).ToList();
        foreach (var m in methods)
        {
            if (!ContinualStrategies.All.Contains(m)) throw new ArgumentException($"unknown method '{m}' (known: {string.Join(", ", ContinualStrategies.All)})");
        }
        if (methods.Count == 0) throw new ArgumentException("no methods");
        if (options.Labels < 2) throw new ArgumentException("--labels must be at least 2");
        if (options.Replay < 0) throw new ArgumentException("--replay must be ≥ 0");
        if (options.SelectRate is { } rate && !(rate > 0 && rate <= 1)) throw new ArgumentException("--select-rate must be in (0, 1]");
        if (options.ReplayFraction is < 0 or >= 1) throw new ArgumentException($"the replay fraction must be from 0 to below 1, not {options.ReplayFraction}");
        if (options.ReplayFraction > 0 && options.Replay > 0) throw new ArgumentException("--replay (a buffer) and --replay-fraction (the services' replay) exclude each other");
        var csv = options.ModelPath is not null;
        if (csv && (options.ManifestPath is null || options.OriginalCsv is null || options.LabelColumn is null || options.CsvRegimes.Count == 0))
            throw new ArgumentException("a user's model needs its manifest, the original CSV, the label column and at least one CSV regime");
        if (csv && (options.Sequence.Count + options.UserRegimes.Count > 0))
            throw new ArgumentException("CSV regimes of a user's model do not mix with Fashion-MNIST scenarios or image regimes");
        if (csv && methods.Contains("retrain"))
            throw new ArgumentException("retrain rebuilds a built-in model from scratch and a user's model cannot be: leave out retrain (its cost reference is counted from the model's training recipe)");
        var scenarios = options.Sequence.Select(DriftScenario.Parse).ToList();
        if (scenarios.Count + options.UserRegimes.Count + options.CsvRegimes.Count == 0) throw new ArgumentException("the sequence is empty");
        var total = Stopwatch.StartNew();
        var loadStart = LoadAverage();

        using var userModel = csv ? ModelBundle.FromTorchScript(options.ModelPath!, ModelManifest.Load(options.ManifestPath!), ComputeDevice.Resolve(options.Device)) : null;
        progress?.Report(new BenchmarkProgress("data", csv ? "loading CSV regimes" : "loading Fashion-MNIST", 0, 1));
        using var splits = csv ? null : FashionMnist.LoadSplits(options.Seed, options.DataDirectory);
        var (regimes, reference) = splits is null
            ? RegimeData.FromCsv(options.OriginalCsv!, options.CsvRegimes, options.LabelColumn!, userModel!.Info, options.Labels, budget.EvalSize, options.Seed)
            : (RegimeData.Build(splits, scenarios, options.UserRegimes, options.Labels, budget.EvalSize, options.Seed), splits.ReferenceHoldout.Take(budget.ReferenceSize));
        using var regimesOwned = regimes;
        using var referenceOwned = reference;
        progress?.Report(new BenchmarkProgress("data", "ready", 1, 1));

        var baseOptions = new BaseTrainingOptions
        {
            Architecture = options.Architecture, Epochs = budget.BaseEpochs, TrainSize = budget.BaseTrainSize, Seed = options.Seed, Device = options.Device,
        };
        var baseWatch = Stopwatch.StartNew();
        var (baseModel, fromCache) = splits is null ? (userModel!.Clone(), false) : BaseTrainer.TrainOrLoad(splits.Train, baseOptions, options.CacheDirectory, null, ct);
        using var baseOwned = baseModel;
        var baseSeconds = baseWatch.Elapsed.TotalSeconds;
        progress?.Report(new BenchmarkProgress("base", fromCache ? "loaded from cache" : "trained", 1, 1));
        var baseAcc = regimes.Tests.Select(t => Accuracy(ParameterOps.PredictWithClassifier(baseModel, t.Images), t)).ToArray();

        var buffers = ReplayPlan(reference, regimes.Labelled, options.Replay, options.Seed);
        // The services' replay: each regime's rows with class-balanced reference rows, the same sets for every method.
        var replayed = options.ReplayFraction > 0
            ? regimes.Labelled.Select((l, t) => BenchmarkData.WithReplay(l, reference, options.ReplayFraction, options.Seed + 10 * t)).ToList()
            : null;
        var adaptation = new AdaptationBudget
        {
            Epochs = budget.Epochs, BatchSize = budget.BatchSize, RetrainEpochs = budget.BaseEpochs, RetrainOriginalSize = budget.BaseTrainSize,
        };
        var result = new ContinualBenchmarkResult
        {
            Dataset = csv ? "csv" : "fashion-mnist",
            Sequence = ["original", .. regimes.Names],
            Seed = options.Seed,
            Budget = budget.Name,
            LabelsPerRegime = options.Labels,
            Model = new BenchmarkModelInfo(baseModel.Info.Architecture, baseModel.Info.ParamsTotal),
            Base = new ContinualBaseResult { Acc = baseAcc, FromCache = fromCache, TrainSeconds = fromCache || csv ? 0 : baseSeconds },
            Protocol = budget,
            Replay = options.Replay,
            ReplayFraction = options.ReplayFraction,
            ReplayRows = replayed?.Select(x => x.ReplayRows).ToArray(),
            RetrainReferencePasses = options.RetrainRecipe is { } recipe
                ? regimes.Labelled.Select((_, t) => (long)(recipe.Rows + regimes.Labelled.Take(t + 1).Sum(l => l.Count)) * recipe.Epochs).Sum()
                : null,
            SelectRate = options.SelectRate,
            EvalSizes = regimes.Tests.Select(t => t.Count).ToArray(),
            LoadAverageStart = loadStart,
        };
        try
        {
            foreach (var method in methods)
            {
                ct.ThrowIfCancellationRequested();
                var sets = replayed?.Select(x => x.Mixed).ToList() ?? (IReadOnlyList<ImageDataset?>)buffers;
                result.Results.Add(RunMethod(method, baseModel, splits?.Train, reference, regimes, sets, replayed is null, adaptation, options, baseAcc, progress, ct));
            }
        }
        finally
        {
            foreach (var b in buffers) b?.Dispose();
            foreach (var r in replayed ?? []) r.Mixed.Dispose();
        }
        result.LoadAverageEnd = LoadAverage();
        return result with { TotalSeconds = total.Elapsed.TotalSeconds };
    }

    // replays: per regime, the buffer to join to its rows (joinBuffer) or the rows already mixed with replay; null: the rows alone.
    private static ContinualMethodResult RunMethod(string method, ModelBundle baseModel, ImageDataset? originalTrain, ImageDataset reference,
        RegimeData regimes, IReadOnlyList<ImageDataset?> replays, bool joinBuffer, AdaptationBudget adaptation, ContinualBenchmarkOptions options,
        double[] baseAcc, IProgress<BenchmarkProgress>? progress, CancellationToken ct)
    {
        using var strategy = ContinualStrategies.Create(method, baseModel.Info.Classes.Length, options.SelectRate);
        var current = baseModel.Clone();
        var matrix = new List<double[]>();
        var stats = new List<AdaptationStats>();
        var device = "cpu";
        try
        {
            var n = regimes.Labelled.Count;
            for (var t = 0; t < n; t++)
            {
                progress?.Report(new BenchmarkProgress(method, $"adapting to {regimes.Names[t]}", t, n));
                var replay = method == "retrain" ? null : replays[t];
                using var joined = replay is null || !joinBuffer ? null : Concat(regimes.Labelled[t], replay);
                var context = new AdaptationContext
                {
                    Seed = options.Seed * 1000 + t,
                    Budget = adaptation,
                    BaseModel = baseModel,
                    Reference = reference,
                    OriginalTrain = originalTrain,
                    EarlierRegimes = regimes.Labelled.Take(t).ToList(),
                    Device = options.Device,
                    Index = t,
                };
                var (next, s) = strategy.Adapt(current, joined ?? replay ?? regimes.Labelled[t], context, ct);
                current.Dispose();
                current = next;
                stats.Add(s);
                device = ComputeDevice.Describe(current.Device);
                matrix.Add(regimes.Tests.Select(test => Accuracy(strategy.Predict(current, test.Images), test)).ToArray());
            }
            progress?.Report(new BenchmarkProgress(method, "done", n, n));
        }
        finally
        {
            current.Dispose();
        }
        var summary = ContinualMetrics.Compute(matrix, baseAcc);
        return new ContinualMethodResult
        {
            Method = method,
            AccMatrix = matrix,
            AvgAcc = summary.AvgAcc,
            Forgetting = summary.Forgetting,
            MaxForgetting = summary.MaxForgetting,
            Bwt = summary.Bwt,
            TrainSeconds = stats.Sum(s => s.TrainSeconds),
            SamplePasses = stats.Sum(s => s.SamplePasses),
            SelectedFraction = stats.Average(s => s.SelectedFraction),
            UpdatedFractionPerStep = stats.Average(s => s.UpdatedFractionPerStep),
            OptimizerStateBytes = stats.Max(s => s.OptimizerStateBytes),
            Device = device,
            Steps = stats.Sum(s => (long)s.Steps),
            Replay = method == "retrain" ? 0 : options.Replay,
            Details = stats.Select(s => s.Detail ?? "").ToList(),
        };
    }

    /// <summary>Accuracy of predicted classes against a dataset's labels.</summary>
    public static double Accuracy(long[] predicted, ImageDataset data)
    {
        ArgumentNullException.ThrowIfNull(predicted);
        ArgumentNullException.ThrowIfNull(data);
        var truth = data.LabelArray();
        if (truth.Length == 0) return 0;
        var ok = 0;
        for (var i = 0; i < truth.Length; i++) if (predicted[i] == truth[i]) ok++;
        return (double)ok / truth.Length;
    }

    /// <summary>
    /// Buffer contents before each adaptation: reservoir sampling (seeded, method-independent) over the reference
    /// data, then each regime's labelled rows as they arrive. Null entries when replay is off.
    /// </summary>
    public static List<ImageDataset?> ReplayPlan(ImageDataset reference, IReadOnlyList<ImageDataset> labelled, int size, int seed)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(labelled);
        var plans = new List<ImageDataset?>();
        if (size <= 0)
        {
            plans.AddRange(labelled.Select(_ => (ImageDataset?)null));
            return plans;
        }
        var rng = new Random(seed + 99);
        var slots = new List<(int Source, long Index)>();
        long seen = 0;
        void Offer(int source, int count)
        {
            for (var i = 0; i < count; i++)
            {
                seen++;
                if (slots.Count < size) slots.Add((source, i));
                else
                {
                    var j = (long)(rng.NextDouble() * seen);
                    if (j < size) slots[(int)j] = (source, i);
                }
            }
        }
        var sources = new List<ImageDataset> { reference };
        Offer(0, reference.Count);
        for (var t = 0; t < labelled.Count; t++)
        {
            plans.Add(Materialise(sources, slots));
            sources.Add(labelled[t]);
            Offer(t + 1, labelled[t].Count);
        }
        return plans;
    }

    private static ImageDataset Materialise(List<ImageDataset> sources, List<(int Source, long Index)> slots)
    {
        var parts = slots.GroupBy(s => s.Source).Select(g => sources[g.Key].Select(g.Select(s => s.Index).ToArray())).ToList();
        var joined = Concat(parts);
        foreach (var p in parts) p.Dispose();
        return joined;
    }

    private static ImageDataset Concat(params ImageDataset[] parts) => Concat((IReadOnlyList<ImageDataset>)parts);

    private static ImageDataset Concat(IReadOnlyList<ImageDataset> parts) =>
        new(TorchSharp.torch.cat(parts.Select(p => p.Images).ToList(), 0), TorchSharp.torch.cat(parts.Select(p => p.Labels).ToList(), 0));

    private static string? LoadAverage()
    {
        try
        {
            return File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : null;
        }
        catch (IOException)
        {
            return null;
        }
    }
}
