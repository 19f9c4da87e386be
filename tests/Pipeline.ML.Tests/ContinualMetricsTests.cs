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
