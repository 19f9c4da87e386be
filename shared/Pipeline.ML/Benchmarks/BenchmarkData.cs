using Pipeline.ML.Data;
using Pipeline.ML.Models;

namespace Pipeline.ML.Benchmarks;

/// <summary>
/// The three datasets of <c>bench adapt</c>: labelled shifted rows to adapt on, held-out shifted rows and held-out
/// original rows. Fashion-MNIST (a scenario, or the user's IDX files) for the built-in models and for a user's
/// model that takes [1, 28, 28] images with 10 classes; the user's CSV files for any other model.
/// </summary>
public sealed class BenchmarkData : IDisposable
{
    private BenchmarkData(FashionMnistSplits? splits, ImageDataset originalTest, ImageDataset adapt, ImageDataset shiftedTest, string source, string dataset,
        ImageDataset reference)
    {
        Splits = splits;
        OriginalTest = originalTest;
        Adapt = adapt;
        Reference = reference;
        ShiftedTest = shiftedTest;
        ShiftedSource = source;
        Dataset = dataset;
    }

    /// <summary>Fashion-MNIST splits (null for CSV data): the built-in base model trains on them.</summary>
    public FashionMnistSplits? Splits { get; }

    public ImageDataset OriginalTest { get; }

    public ImageDataset Adapt { get; private set; }

    public ImageDataset ShiftedTest { get; }

    /// <summary>
    /// Labelled original-distribution rows a deployment keeps as its reference (EWC's Fisher, readout initialisation,
    /// replay): Fashion-MNIST's reference holdout (1,000 images); for CSV data the original rows after the original
    /// test rows (at most 1,000, never tested on), or the adaptation rows when the file has no rows left over.
    /// </summary>
    public ImageDataset Reference { get; }

    /// <summary>Original rows mixed into <see cref="Adapt"/> as replay (0 without replay).</summary>
    public int ReplayRows { get; private set; }

    /// <summary>"scenario:NAME", "idx:FILE" or "csv:FILE".</summary>
    public string ShiftedSource { get; }

    /// <summary>"fashion-mnist" or "csv".</summary>
    public string Dataset { get; }

    /// <summary>Most reference rows kept.</summary>
    public const int ReferenceRows = 1000;

    /// <summary>True when a model of this shape and class count runs on Fashion-MNIST.</summary>
    public static bool TakesFashionMnist(ModelInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        return info.InputShape.SequenceEqual(FashionMnist.InputShape) && info.Classes.Length == FashionMnist.ClassNames.Count;
    }

    /// <summary>Loads the data of a run; <paramref name="model"/> is the user's model (null: a built-in one).</summary>
    public static BenchmarkData Load(AdaptBenchmarkOptions options, BenchmarkBudget budget, ModelInfo? model)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(budget);
        var csv = options.OriginalCsv is not null || options.ShiftedCsv is not null;
        if (model is not null && !TakesFashionMnist(model) && !csv)
        {
            throw new ArgumentException(
                $"the model takes [{string.Join(", ", model.InputShape)}] with {model.Classes.Length} classes, not Fashion-MNIST images: give --original-csv, --shifted-csv and --label-column");
        }
        if (options.ReplayFraction is < 0 or >= 1)
            throw new ArgumentException($"the replay fraction must be from 0 to below 1, not {options.ReplayFraction}", nameof(options));
        var data = csv ? FromCsv(options, budget, model) : FromFashionMnist(options, budget);
        if (options.ReplayFraction > 0) data.AddReplay(options.ReplayFraction, options.Seed);
        return data;
    }

    /// <summary>
    /// The services' replay (ScoringService ReplayFraction): class-balanced reference rows join the adaptation rows so
    /// that they make up <paramref name="fraction"/> of the result, shuffled with a fixed seed. Every method gets the
    /// same mixed set.
    /// </summary>
    private void AddReplay(double fraction, int seed)
    {
        var wanted = (int)Math.Round(Adapt.Count * fraction / (1 - fraction));
        var picked = ClassBalancedPick(Reference.LabelArray(), wanted, seed + 1);
        using var replay = Reference.Select(picked);
        using var joined = new ImageDataset(TorchSharp.torch.cat([Adapt.Images, replay.Images], 0), TorchSharp.torch.cat([Adapt.Labels, replay.Labels], 0));
        var mixed = joined.Shuffle(seed + 2);
        Adapt.Dispose();
        Adapt = mixed;
        ReplayRows = picked.Length;
    }

    /// <summary>
    /// <paramref name="count"/> row indices drawn round-robin over the classes (each class's rows in a seeded order), so
    /// every class gets the same share give or take one while it has rows; sorted. The services' RegimeSets.ClassBalancedPick.
    /// </summary>
    public static long[] ClassBalancedPick(IReadOnlyList<long> labels, int count, int seed)
    {
        ArgumentNullException.ThrowIfNull(labels);
        count = Math.Clamp(count, 0, labels.Count);
        var rng = new Random(seed);
        var byClass = labels.Select((label, row) => (label, row)).GroupBy(x => x.label).OrderBy(g => g.Key)
            .Select(g =>
            {
                var rows = g.Select(x => (long)x.row).ToArray();
                rng.Shuffle(rows);
                return new Queue<long>(rows);
            }).ToList();
        var picked = new List<long>(count);
        while (picked.Count < count)
        {
            foreach (var queue in byClass.Where(q => q.Count > 0))
            {
                if (picked.Count == count) break;
                picked.Add(queue.Dequeue());
            }
        }
        picked.Sort();
        return [.. picked];
    }

    private static BenchmarkData FromCsv(AdaptBenchmarkOptions options, BenchmarkBudget budget, ModelInfo? model)
    {
        if (model is null) throw new ArgumentException("CSV data needs a user's model (--model and --manifest)");
        if (options.OriginalCsv is null || options.ShiftedCsv is null || options.LabelColumn is null)
            throw new ArgumentException("--original-csv, --shifted-csv and --label-column go together");
        if (model.InputShape.Length != 1)
            throw new ArgumentException($"CSV rows are flat; the model takes [{string.Join(", ", model.InputShape)}]");
        var names = model.Features?.Select(f => f.Name).ToList()
            ?? Enumerable.Range(0, model.InputShape[0]).Select(i => $"x{i}").ToList();
        using var original = LabelledCsv.Load(options.OriginalCsv, names, options.LabelColumn, model.Classes);
        using var shifted = LabelledCsv.Load(options.ShiftedCsv, names, options.LabelColumn, model.Classes);
        using var originalShuffled = original.Shuffle(options.Seed);
        using var shiftedShuffled = shifted.Shuffle(options.Seed + 1);
        var nAdapt = Math.Min(budget.AdaptSize, shiftedShuffled.Count / 2);
        var adapt = shiftedShuffled.Slice(0, nAdapt);
        var shiftedTest = shiftedShuffled.Slice(nAdapt, Math.Min(budget.EvalSize, shiftedShuffled.Count - nAdapt));
        var originalTest = originalShuffled.Take(budget.EvalSize);
        var reference = originalShuffled.Count > originalTest.Count
            ? originalShuffled.Slice(originalTest.Count, Math.Min(ReferenceRows, originalShuffled.Count - originalTest.Count))
            : adapt.Take(adapt.Count);
        return new BenchmarkData(null, originalTest, adapt, shiftedTest, $"csv:{options.ShiftedCsv}", "csv", reference);
    }

    private static BenchmarkData FromFashionMnist(AdaptBenchmarkOptions options, BenchmarkBudget budget)
    {
        var userData = options.ShiftedImages is not null || options.ShiftedLabels is not null;
        if (userData && (options.ShiftedImages is null || options.ShiftedLabels is null))
            throw new ArgumentException("--shifted-images and --shifted-labels go together", nameof(options));
        var scenario = userData ? null : DriftScenario.Parse(options.Scenario);
        var splits = FashionMnist.LoadSplits(options.Seed, options.DataDirectory);
        try
        {
            var originalTest = splits.Test.Take(budget.EvalSize);
            ImageDataset adapt, shiftedTest;
            if (userData)
            {
                using var user = FashionMnist.LoadIdx(options.ShiftedImages!, options.ShiftedLabels!);
                using var shuffled = user.Shuffle(options.Seed);
                var nAdapt = Math.Min(budget.AdaptSize, shuffled.Count / 2);
                adapt = shuffled.Slice(0, nAdapt);
                shiftedTest = shuffled.Slice(nAdapt, Math.Min(budget.EvalSize, shuffled.Count - nAdapt));
            }
            else
            {
                using var shiftedPool = scenario!.Apply(splits.Validation, options.Seed);
                adapt = shiftedPool.Take(budget.AdaptSize);
                using var shiftedAll = scenario.Apply(originalTest, options.Seed + 1);
                shiftedTest = shiftedAll.Take(budget.EvalSize);
            }
            var source = userData ? $"idx:{options.ShiftedImages}" : $"scenario:{scenario!.Name}";
            return new BenchmarkData(splits, originalTest, adapt, shiftedTest, source, "fashion-mnist", splits.ReferenceHoldout.Take(ReferenceRows));
        }
        catch
        {
            splits.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Splits?.Dispose();
        OriginalTest.Dispose();
        Adapt.Dispose();
        ShiftedTest.Dispose();
        Reference.Dispose();
    }
}
