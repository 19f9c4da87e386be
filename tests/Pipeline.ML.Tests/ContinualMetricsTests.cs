using Pipeline.ML.Benchmarks;

namespace Pipeline.ML.Tests;

public class ContinualMetricsTests
{
    // Base [0.9, 0.3, 0.2]; after regime 1: [0.8, 0.85, 0.4]; after regime 2: [0.7, 0.75, 0.9].
    private static readonly double[][] Matrix = [[0.8, 0.85, 0.4], [0.7, 0.75, 0.9]];
    private static readonly double[] Base = [0.9, 0.3, 0.2];

    [Fact]
    public void Metrics_match_hand_computed_values()
    {
        var s = ContinualMetrics.Compute(Matrix, Base);
        Assert.Equal((0.7 + 0.75 + 0.9) / 3, s.AvgAcc, 12);
        // original: best of base 0.9 and row 0's 0.8 → 0.9 − 0.7 = 0.2; regime 1: 0.85 − 0.75 = 0.1.
        Assert.Equal(0.15, s.Forgetting, 12);
        Assert.Equal(0.2, s.MaxForgetting, 12);
        // GEM BWT: original (0.7 − 0.9) and regime 1 (0.75 − 0.85) → mean −0.15.
        Assert.Equal(-0.15, s.Bwt, 12);
    }

    [Fact]
    public void Forgetting_uses_the_best_earlier_accuracy_not_the_one_right_after_learning()
    {
        // Regime 1 improves after regime 2 (0.6 → 0.8), then drops to 0.5 at the end.
        double[][] m = [[0.9, 0.6, 0.1, 0.1], [0.9, 0.8, 0.7, 0.1], [0.9, 0.5, 0.6, 0.9]];
        double[] b = [0.9, 0.2, 0.1, 0.1];
        var s = ContinualMetrics.Compute(m, b);
        Assert.Equal(((0.9 - 0.9) + (0.8 - 0.5) + (0.7 - 0.6)) / 3, s.Forgetting, 12);
        Assert.Equal(0.3, s.MaxForgetting, 12);
        Assert.Equal(((0.9 - 0.9) + (0.5 - 0.6) + (0.6 - 0.7)) / 3, s.Bwt, 12);
        Assert.Equal((0.9 + 0.5 + 0.6 + 0.9) / 4, s.AvgAcc, 12);
    }

    [Fact]
    public void A_single_adaptation_forgets_against_the_base_only()
    {
        var s = ContinualMetrics.Compute([[0.7, 0.8]], [0.9, 0.3]);
        Assert.Equal(0.2, s.Forgetting, 12);
        Assert.Equal(-0.2, s.Bwt, 12);
        Assert.Equal(0.75, s.AvgAcc, 12);
    }

    [Fact]
    public void Bad_shapes_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => ContinualMetrics.Compute([[0.7, 0.8, 0.1]], [0.9, 0.3]));
        Assert.Throws<ArgumentException>(() => ContinualMetrics.Compute([], []));
    }

    [Fact]
    public void Bootstrap_interval_brackets_the_mean_and_is_seeded()
    {
        double[] v = [0.70, 0.72, 0.75, 0.71, 0.80, 0.69];
        var a = Bootstrap.MeanInterval(v, 1000, 3);
        var b = Bootstrap.MeanInterval(v, 1000, 3);
        Assert.Equal(a, b);
        Assert.Equal(v.Average(), a.Mean, 12);
        Assert.True(a.Low < a.Mean && a.Mean < a.High);
        Assert.True(a.Low >= v.Min() && a.High <= v.Max());
        var one = Bootstrap.MeanInterval([0.5]);
        Assert.Equal((0.5, 0.5, 0.5), one);
    }

    [Fact]
    public void User_regime_spec_is_parsed_and_bad_specs_rejected()
    {
        var u = UserRegime.Parse("scanner=/d/x.idx.gz:/d/y.idx.gz");
        Assert.Equal(("scanner", "/d/x.idx.gz", "/d/y.idx.gz"), (u.Name, u.Images, u.Labels));
        Assert.Throws<ArgumentException>(() => UserRegime.Parse("noequals"));
        Assert.Throws<ArgumentException>(() => UserRegime.Parse("a=onlyimages"));
        Assert.Throws<ArgumentException>(() => UserRegime.Parse("=x:y"));
    }
}

public class ContinualBenchmarkTests
{
    private static readonly ContinualBudget Tiny = new()
    {
        Name = "quick", BaseTrainSize = 1500, BaseEpochs = 1, Epochs = 2, BatchSize = 32, EvalSize = 200, ReferenceSize = 200,
    };

    [FashionMnistFact]
    public void Tiny_sequence_fills_the_matrix_and_the_summary_follows_from_it()
    {
        var cache = Synthetic.TempDir();
        var r = ContinualBenchmark.Run(new ContinualBenchmarkOptions
        {
            Sequence = ["rotate-30", "noise-0.3"], Methods = ["head", "mist"], Labels = 64, Seed = 3, Replay = 32,
            CacheDirectory = cache, Device = "cpu", BudgetOverride = Tiny,
        });
        Assert.Equal(["original", "rotate-30", "noise-0.3"], r.Sequence);
        Assert.Equal(3, r.Base.Acc.Length);
        Assert.True(r.Base.Acc[1] < r.Base.Acc[0], "rotation must hurt the base model");
        Assert.Equal(["head", "mist"], r.Results.Select(x => x.Method).ToArray());
        foreach (var m in r.Results)
        {
            Assert.Equal(2, m.AccMatrix.Count);
            Assert.All(m.AccMatrix, row => Assert.Equal(3, row.Length));
            var s = ContinualMetrics.Compute(m.AccMatrix, r.Base.Acc);
            Assert.Equal(s.AvgAcc, m.AvgAcc, 12);
            Assert.Equal(s.Forgetting, m.Forgetting, 12);
            Assert.Equal(s.Bwt, m.Bwt, 12);
            Assert.True(m.SamplePasses > 0 && m.TrainSeconds > 0);
            Assert.Equal(32, m.Replay);
        }
        var mist = r.Results.Single(x => x.Method == "mist");
        Assert.True(mist.SelectedFraction <= 0.05, $"selected {mist.SelectedFraction}");
        using var doc = System.Text.Json.JsonDocument.Parse(r.ToJson());
        foreach (var key in new[] { "dataset", "sequence", "seed", "budget", "labels_per_regime", "model", "base", "results" })
            Assert.True(doc.RootElement.TryGetProperty(key, out _), key);
        var row = doc.RootElement.GetProperty("results")[0];
        foreach (var key in new[] { "method", "acc_matrix", "avg_acc", "forgetting", "max_forgetting", "bwt", "train_seconds", "sample_passes",
                     "selected_fraction", "updated_fraction_per_step", "optimizer_state_bytes", "device" })
            Assert.True(row.TryGetProperty(key, out _), key);
        Assert.Contains("| mist |", ContinualReport.Summary([r, r]));
        Assert.Throws<ArgumentException>(() => ContinualBenchmark.Run(new ContinualBenchmarkOptions { Methods = ["magic"], BudgetOverride = Tiny }));
    }
}
