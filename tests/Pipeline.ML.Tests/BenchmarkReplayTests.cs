using Pipeline.ML.Benchmarks;
using Pipeline.ML.Models;
using TorchSharp;

namespace Pipeline.ML.Tests;

/// <summary><c>bench adapt</c> on CSV data: reference rows from the original file, and the services' replay.</summary>
public sealed class BenchmarkReplayTests
{
    private static readonly BenchmarkBudget Tiny = new() { Name = "tiny", AdaptSize = 200, Steps = 6, BatchSize = 32, EvalSize = 300 };

    private static AdaptBenchmarkOptions Options(double replay) => new()
    {
        Scenario = "tabular-shift", Seed = 4, Device = "cpu", Methods = ["head"], ReplayFraction = replay, BudgetOverride = Tiny,
        ModelPath = Path.Combine(PyTorchModels.Directory, "tabular.pt"), ManifestPath = Path.Combine(PyTorchModels.Directory, "tabular.json"),
        OriginalCsv = Path.Combine(PyTorchModels.Directory, "tabular-reference.csv"),
        ShiftedCsv = Path.Combine(PyTorchModels.Directory, "tabular-shifted.csv"), LabelColumn = "label",
    };

    private static HashSet<string> Keys(Data.ImageDataset d) =>
        d.ToFeatureVectors().Select(r => string.Join(",", r.Select(v => BitConverter.SingleToInt32Bits(v)))).ToHashSet();

    [Fact]
    public void Class_balanced_pick_takes_classes_in_turn_seeded_and_sorted()
    {
        long[] labels = [0, 0, 0, 0, 0, 1, 1, 2, 1, 0];
        var pick = BenchmarkData.ClassBalancedPick(labels, 5, 3);
        Assert.Equal(pick.Order(), pick);
        Assert.Equal(5, pick.Distinct().Count());
        var perClass = pick.GroupBy(i => labels[i]).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(2, perClass[0]);
        Assert.Equal(2, perClass[1]);
        Assert.Equal(1, perClass[2]); // class 2 has one row only
        Assert.Equal(pick, BenchmarkData.ClassBalancedPick(labels, 5, 3));
        Assert.Equal(10, BenchmarkData.ClassBalancedPick(labels, 50, 3).Length);
    }

    [Fact]
    public void Reference_rows_are_original_rows_never_tested_on_and_replay_joins_them_to_the_adaptation_set()
    {
        var options = Options(0.3);
        using var model = ModelBundle.FromTorchScript(options.ModelPath!, ModelManifest.Load(options.ManifestPath!), torch.CPU);
        using var plain = BenchmarkData.Load(Options(0), Tiny, model.Info);
        using var mixed = BenchmarkData.Load(options, Tiny, model.Info);
        Assert.Equal(1000, plain.Reference.Count); // 2,000 original rows: 300 tested, 1,000 of the rest kept
        Assert.Empty(Keys(plain.Reference).Intersect(Keys(plain.OriginalTest)));
        Assert.Empty(Keys(plain.Reference).Intersect(Keys(plain.Adapt)));
        Assert.Equal(0, plain.ReplayRows);

        var wanted = (int)Math.Round(200 * 0.3 / 0.7);
        Assert.Equal(wanted, mixed.ReplayRows);
        Assert.Equal(200 + wanted, mixed.Adapt.Count);
        var adaptKeys = Keys(mixed.Adapt);
        Assert.True(Keys(plain.Adapt).IsSubsetOf(adaptKeys), "every shifted adaptation row stays");
        var replayed = adaptKeys.Except(Keys(plain.Adapt)).ToHashSet();
        Assert.Equal(wanted, replayed.Count);
        Assert.True(replayed.IsSubsetOf(Keys(mixed.Reference)), "replay rows come from the reference rows");
        Assert.Empty(replayed.Intersect(Keys(mixed.OriginalTest)));
        // Shuffled: the replay rows are not all at the end.
        var lastRows = mixed.Adapt.Slice(200, wanted);
        Assert.NotEqual(wanted, Keys(lastRows).Intersect(replayed).Count());
        lastRows.Dispose();
    }

    [Fact]
    public void The_result_records_replay_and_reference_and_a_bad_fraction_is_refused()
    {
        var result = AdaptBenchmark.Run(Options(0.3));
        Assert.Equal(0.3, result.ReplayFraction);
        Assert.Equal(86, result.ReplayRows);
        Assert.Equal(1000, result.ReferenceRows);
        Assert.Contains("\"replay_rows\": 86", result.ToJson(), StringComparison.Ordinal);
        var e = Assert.Throws<ArgumentException>(() => AdaptBenchmark.Run(Options(1)));
        Assert.Contains("replay fraction", e.Message, StringComparison.Ordinal);
    }
}
