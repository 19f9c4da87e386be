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

    private void AddReplay(double fraction, int seed)
    {
        var (mixed, rows) = WithReplay(Adapt, Reference, fraction, seed);
        Adapt.Dispose();
        Adapt = mixed;
        ReplayRows = rows;
    }

    /// <summary>
    /// The services' replay (ScoringService ReplayFraction): class-balanced <paramref name="reference"/> rows join the
    /// adaptation rows so that they make up <paramref name="fraction"/> of the result, shuffled with a fixed seed. Every
    /// method gets the same mixed set. Returns a new dataset (the caller owns it) and the number of replayed rows.
    /// </summary>
    public static (ImageDataset Mixed, int ReplayRows) WithReplay(ImageDataset adapt, ImageDataset reference, double fraction, int seed)
    {
        ArgumentNullException.ThrowIfNull(adapt);
        ArgumentNullException.ThrowIfNull(reference);
        if (fraction is < 0 or >= 1) throw new ArgumentException($"the replay fraction must be from 0 to below 1, not {fraction}", nameof(fraction));
        var wanted = (int)Math.Round(adapt.Count * fraction / (1 - fraction));
        var picked = ClassBalancedPick(reference.LabelArray(), wanted, seed + 1);
        using var replay = reference.Select(picked);
        using var joined = new ImageDataset(TorchSharp.torch.cat([adapt.Images, replay.Images], 0), TorchSharp.torch.cat([adapt.Labels, replay.Labels], 0));
        return (joined.Shuffle(seed + 2), picked.Length);
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
        using var original = LoadCsv(options.OriginalCsv, model, options.LabelColumn);
        using var shifted = LoadCsv(options.ShiftedCsv, model, options.LabelColumn);
        var (adapt, shiftedTest) = SplitShifted(shifted, budget.AdaptSize, budget.EvalSize, options.Seed + 1);
        var (originalTest, reference) = SplitOriginal(original, budget.EvalSize, options.Seed);
        return new BenchmarkData(null, originalTest, adapt, shiftedTest, $"csv:{options.ShiftedCsv}", "csv", reference ?? adapt.Take(adapt.Count));
    }

    /// <summary>Labelled rows of a CSV file with a header, in the columns of the model's manifest (x0, x1, … without names).</summary>
    public static ImageDataset LoadCsv(string path, ModelInfo model, string labelColumn)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.InputShape.Length != 1)
            throw new ArgumentException($"CSV rows are flat; the model takes [{string.Join(", ", model.InputShape)}]");
        var names = model.Features?.Select(f => f.Name).ToList()
            ?? Enumerable.Range(0, model.InputShape[0]).Select(i => $"x{i}").ToList();
        return LabelledCsv.Load(path, names, labelColumn, model.Classes);
    }

    /// <summary>
    /// Original rows shuffled with <paramref name="seed"/>: the first <paramref name="evalSize"/> are the original test
    /// rows, the next (at most <see cref="ReferenceRows"/>) the reference, never tested on; null when none are left.
    /// </summary>
    public static (ImageDataset Test, ImageDataset? Reference) SplitOriginal(ImageDataset original, int evalSize, int seed)
    {
        ArgumentNullException.ThrowIfNull(original);
        using var shuffled = original.Shuffle(seed);
        var test = shuffled.Take(evalSize);
        var reference = shuffled.Count > test.Count
            ? shuffled.Slice(test.Count, Math.Min(ReferenceRows, shuffled.Count - test.Count))
            : null;
        return (test, reference);
    }

    /// <summary>Shifted rows shuffled with <paramref name="seed"/>: at most half (and <paramref name="adaptSize"/>) to adapt on, then the test rows.</summary>
    public static (ImageDataset Adapt, ImageDataset Test) SplitShifted(ImageDataset shifted, int adaptSize, int evalSize, int seed)
    {
        ArgumentNullException.ThrowIfNull(shifted);
        using var shuffled = shifted.Shuffle(seed);
        var nAdapt = Math.Min(adaptSize, shuffled.Count / 2);
        return (shuffled.Slice(0, nAdapt), shuffled.Slice(nAdapt, Math.Min(evalSize, shuffled.Count - nAdapt)));
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
