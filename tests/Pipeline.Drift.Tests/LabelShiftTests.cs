using Pipeline.Drift.Performance;

namespace Pipeline.Drift.Tests;

/// <summary>Black-box shift estimation on a 3-class world whose per-class confusion is fixed and whose class mix moves.</summary>
public class LabelShiftTests
{
    // P(ŷ | y): class 0 is easy, class 2 is often taken for class 1.
    private static readonly double[][] Confusion = [[0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.05, 0.35, 0.6]];

    /// <summary>Rows drawn with class mix <paramref name="mix"/>: (predicted, true) and the true accuracy.</summary>
    private static (List<int> Predicted, List<int> Labels, double Accuracy) Draw(double[] mix, int n, int seed)
    {
        var r = new Random(seed);
        var predicted = new List<int>(n);
        var labels = new List<int>(n);
        int right = 0;
        for (int i = 0; i < n; i++)
        {
            int y = Pick(mix, r.NextDouble());
            int p = Pick(Confusion[y], r.NextDouble());
            labels.Add(y);
            predicted.Add(p);
            if (p == y) right++;
        }
        return (predicted, labels, right / (double)n);
    }

    private static int Pick(double[] probabilities, double u)
    {
        double acc = 0;
        for (int k = 0; k < probabilities.Length; k++)
        {
            acc += probabilities[k];
            if (u < acc) return k;
        }
        return probabilities.Length - 1;
    }

    private static long[] Counts(List<int> predicted, int classes)
    {
        var c = new long[classes];
        foreach (int p in predicted) c[p]++;
        return c;
    }

    [Fact]
    public void Without_a_shift_the_estimate_is_the_holdout_accuracy()
    {
        var (p, y, acc) = Draw([1 / 3.0, 1 / 3.0, 1 / 3.0], 3000, 1);
        var cal = LabelShiftCalibration.Fit(p, y)!;
        Assert.Equal(3, cal.Classes);
        Assert.Equal(acc, cal.Estimate(Counts(p, 3))!.Value, 9);
    }

    [Theory]
    [InlineData(0.7, 0.2, 0.1)]
    [InlineData(0.1, 0.2, 0.7)]
    [InlineData(0.05, 0.15, 0.8)]
    public void A_moved_class_mix_is_read_from_the_predictions_alone(double a, double b, double c)
    {
        var (hp, hy, holdoutAcc) = Draw([1 / 3.0, 1 / 3.0, 1 / 3.0], 20000, 2);
        var cal = LabelShiftCalibration.Fit(hp, hy)!;
        var (tp, _, trafficAcc) = Draw([a, b, c], 20000, 3);
        double est = cal.Estimate(Counts(tp, 3))!.Value;
        // The shift moves accuracy by several points; the estimate follows it within sampling error.
        Assert.True(Math.Abs(trafficAcc - holdoutAcc) > 0.04, $"the shift moves accuracy ({holdoutAcc:F3} -> {trafficAcc:F3})");
        Assert.InRange(est - trafficAcc, -0.015, 0.015);
    }

    [Fact]
    public void Too_little_to_fit_or_to_estimate_is_null()
    {
        Assert.Null(LabelShiftCalibration.Fit([0, 0, 0], [0, 0, 0]));
        Assert.Null(LabelShiftCalibration.Fit([-1, -1], [1, 0]));
        var cal = LabelShiftCalibration.Fit([0, 1, 1, 0], [0, 1, 0, 1])!;
        Assert.Null(cal.Estimate([0, 0]));
        Assert.Null(cal.Estimate([]));
    }
}
