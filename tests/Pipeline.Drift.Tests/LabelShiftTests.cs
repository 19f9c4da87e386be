using System.Text.Json;
using Pipeline.Drift.Monitoring;
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

    [Fact]
    public void The_monitor_reports_bbse_beside_the_median_of_four_and_only_on_request_decides_with_it()
    {
        // Holdout: balanced classes; traffic: class 2 (the hard one) 70 % of the rows. Confidence carries nothing here.
        var (hp, hy, _) = Draw([1 / 3.0, 1 / 3.0, 1 / 3.0], 20000, 4);
        var holdout = hp.Select((p, i) => new Observation([0f], p, 0.8f, hy[i])).ToList();
        var calibration = ConfidenceCalibration.Fit(holdout);
        Assert.NotNull(calibration.LabelShift);
        var (tp, _, truth) = Draw([0.15, 0.15, 0.7], 20000, 5);
        var rows = tp.Select(p => new Observation([0f], p, 0.8f)).ToArray();

        var tracker = new PerformanceTracker(calibration, new TriggerOptions());
        var sums = tracker.Measure(rows);
        Assert.Equal(Counts(tp, 3), sums.PredictedClasses);
        var e = tracker.Record(sums, drifted: true);
        var bbse = e.Estimates.Single(r => r.Name == AccuracyEstimators.Bbse);
        Assert.InRange(bbse.Accuracy - truth, -0.015, 0.015);
        // The interval covers the mix's expected accuracy (0.15·0.9 + 0.15·0.8 + 0.7·0.6).
        Assert.InRange(0.675, bbse.Lower, bbse.Upper);
        // Confidence did not move, so the median of the four sees no drop; BBSE sees the harder mix.
        Assert.Equal(AccuracyEstimators.Median, e.Estimator);
        Assert.InRange(e.EstimatedDrop!.Value, -0.03, 0.03);
        Assert.True(bbse.Drop > 0.08, $"bbse drop {bbse.Drop:F3}");

        var chosen = new PerformanceTracker(calibration, new TriggerOptions { Estimator = AccuracyEstimators.Bbse });
        var withBbse = chosen.Record(chosen.Measure(rows), drifted: true);
        Assert.Equal(AccuracyEstimators.Bbse, withBbse.Estimator);
        Assert.Equal(bbse.Accuracy, withBbse.EstimatedAccuracy!.Value, 12);
    }

    [Fact]
    public void Pooled_windows_add_their_class_counts_and_the_calibration_round_trips_as_json()
    {
        var a = new PerformanceSums { Rows = 3, PredictedClasses = [1, 2] };
        var b = new PerformanceSums { Rows = 4, PredictedClasses = [0, 1, 3] };
        Assert.Equal([1L, 3, 3], a.Add(b).PredictedClasses!);
        Assert.Equal([1L, 2], a.Add(new PerformanceSums()).PredictedClasses!);

        var (p, y, _) = Draw([0.5, 0.3, 0.2], 500, 6);
        var cal = LabelShiftCalibration.Fit(p, y)!;
        var back = JsonSerializer.Deserialize<LabelShiftCalibration>(JsonSerializer.Serialize(cal))!;
        back.Validate();
        Assert.Equal(cal.Estimate([10, 10, 10]), back.Estimate([10, 10, 10]));
        // Stored with the version's profile.
        var profile = ReferenceProfile.Build("m1", 1, p.Select((c, i) => new Observation([i % 7], c, 0.8f)).ToList());
        profile.Performance = ConfidenceCalibration.Fit(p.Select((c, i) => new Observation([0f], c, 0.8f, y[i])).ToList());
        var stored = ReferenceProfile.FromJson(profile.ToJson()).Performance!.LabelShift!;
        Assert.Equal(cal.Joint.SelectMany(r => r), stored.Joint.SelectMany(r => r));
        Assert.Equal(500, stored.Rows);

        var bad = new LabelShiftCalibration { Joint = [[0.5, 0.5], [0.5]] };
        Assert.Throws<DriftInputException>(bad.Validate);
        Assert.Throws<DriftInputException>(new LabelShiftCalibration { Joint = [[0.5, 0.1], [0.1, 0.1]] }.Validate);
    }
}
