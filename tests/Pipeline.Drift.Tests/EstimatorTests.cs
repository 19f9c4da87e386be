using Pipeline.Drift.Monitoring;
using Pipeline.Drift.Performance;

namespace Pipeline.Drift.Tests;

/// <summary>ATC, DoC and importance weighting on synthetic data whose true accuracy is known.</summary>
public class EstimatorTests
{
    private static double Sigmoid(double z) => 1 / (1 + Math.Exp(-z));

    /// <summary>
    /// A model whose correctness depends on its input x through a fixed p(correct | x) = σ(2 − 1.5·x0), and whose
    /// confidence is a noisy function of the same x; a covariate shift moves x0's mean.
    /// </summary>
    private static (List<double[]> X, List<double> Conf, List<bool> Correct) World(int n, double mean0, int seed)
    {
        var r = new Random(seed);
        var x = new List<double[]>(n);
        var conf = new List<double>(n);
        var correct = new List<bool>(n);
        for (int i = 0; i < n; i++)
        {
            var row = new[] { mean0 + Synth.Normal(r), Synth.Normal(r), Synth.Normal(r) };
            double z = 2 - 1.5 * row[0];
            x.Add(row);
            conf.Add(Sigmoid(1.6 * z)); // over-confident by temperature 1.6
            correct.Add(r.NextDouble() < Sigmoid(z));
        }
        return (x, conf, correct);
    }

    private static double Accuracy(List<bool> c) => c.Count(v => v) / (double)c.Count;

    /// <summary>A world where the score nearly decides correctness (right when score + small noise &gt; 0): ATC's premise.</summary>
    private static (List<double> Score, List<bool> Correct) Thresholded(int n, double mean, int seed)
    {
        var r = new Random(seed);
        var s = new List<double>(n);
        var c = new List<bool>(n);
        for (int i = 0; i < n; i++)
        {
            double v = mean + Synth.Normal(r);
            s.Add(Sigmoid(3 * v)); // an over-confident probability, monotone in v
            c.Add(v + 0.2 * Synth.Normal(r) > 0);
        }
        return (s, c);
    }

    [Fact]
    public void Atc_reproduces_the_holdout_accuracy_and_tracks_a_shift_where_the_score_orders_correctness()
    {
        var (conf, correct) = Thresholded(4000, 1.0, 1);
        var atc = AtcThreshold.Fit(conf, correct);
        Assert.Equal(Accuracy(correct), atc.ReferenceAccuracy, 9);
        Assert.InRange(atc.Estimate(conf), atc.ReferenceAccuracy - 0.001, atc.ReferenceAccuracy + 0.001);

        var (fresh, freshCorrect) = Thresholded(20000, 1.0, 2);
        Assert.InRange(atc.Estimate(fresh), Accuracy(freshCorrect) - 0.015, Accuracy(freshCorrect) + 0.015);
        var (shifted, shiftedCorrect) = Thresholded(20000, 0.2, 3);
        double truth = Accuracy(shiftedCorrect);
        Assert.True(truth < atc.ReferenceAccuracy - 0.15, $"the shift costs accuracy ({truth:F3})");
        Assert.InRange(atc.Estimate(shifted), truth - 0.02, truth + 0.02);
    }

    [Fact]
    public void Where_the_calibration_curve_is_invariant_cbpe_is_right_and_atc_is_not()
    {
        // None is guaranteed: in this world p(correct | confidence) is fixed, so CBPE's premise holds and ATC's does not.
        var (_, conf, correct) = World(4000, 0, 11);
        var atc = AtcThreshold.Fit(conf, correct);
        var cbpe = ConfidenceCalibration.Fit(conf, correct);
        var (_, shifted, shiftedCorrect) = World(20000, 1.0, 12);
        double truth = Accuracy(shiftedCorrect);
        Assert.InRange(shifted.Average(cbpe.Calibrate), truth - 0.02, truth + 0.02);
        Assert.True(Math.Abs(atc.Estimate(shifted) - truth) > 0.05);
    }

    [Fact]
    public void Atc_handles_ties_extremes_and_bad_input()
    {
        var same = Enumerable.Repeat(0.9, 100).ToList();
        var half = Enumerable.Range(0, 100).Select(i => i % 2 == 0).ToList();
        var tied = AtcThreshold.Fit(same, half);
        Assert.InRange(tied.ReferenceLevel, 0, 1); // all tied: the level is 0 or 1, whichever is nearer; never NaN
        var allRight = AtcThreshold.Fit(Enumerable.Range(0, 60).Select(i => i / 60.0).ToList(), Enumerable.Repeat(true, 60).ToList());
        Assert.Equal(1, allRight.ReferenceLevel, 9);
        var allWrong = AtcThreshold.Fit(Enumerable.Range(0, 60).Select(i => i / 60.0).ToList(), Enumerable.Repeat(false, 60).ToList());
        Assert.Equal(0, allWrong.ReferenceLevel, 9);
        Assert.Throws<DriftInputException>(() => AtcThreshold.Fit([0.5, 0.6], [true]));
        Assert.Throws<DriftInputException>(() => AtcThreshold.Fit(Enumerable.Repeat(double.NaN, 100).ToList(), half));
        Assert.True(double.IsNaN(tied.Estimate([double.NaN])));
        Assert.Equal(0, AtcThreshold.NegativeEntropy([1f, 0f, 0f]), 9);
        Assert.Equal(-Math.Log(4), AtcThreshold.NegativeEntropy([0.25f, 0.25f, 0.25f, 0.25f]), 6);
    }

    private static HoldoutSample Sample(List<double[]> x, List<bool> correct) =>
        new() { Rows = x.Select(r => r.Select(v => (float)v).ToArray()).ToList(), Correct = correct };

    [Fact]
    public void Importance_weighting_recovers_the_accuracy_under_covariate_shift_within_its_interval()
    {
        var (hx, _, hc) = World(2000, 0, 4);
        var holdout = Sample(hx, hc);
        var (cx, _, cc) = World(3000, 0.7, 5);
        var iw = ImportanceWeighting.Estimate(holdout, cx)!.Value;
        // The truth is the expected accuracy at the shifted inputs: p(correct | x) averaged over them.
        double truth = cx.Average(r => Sigmoid(2 - 1.5 * r[0]));
        Assert.True(Accuracy(hc) - truth > 0.08, "the shift costs accuracy");
        Assert.InRange(iw.Accuracy, truth - 3 * iw.StandardError - 0.01, truth + 3 * iw.StandardError + 0.01);
        Assert.InRange(iw.StandardError, 0.005, 0.05);
        Assert.True(iw.EffectiveRows < 2000);

        // No shift: weights near 1, the estimate is the holdout accuracy, the effective sample stays large.
        var (sx, _, _) = World(3000, 0, 6);
        var same = ImportanceWeighting.Estimate(holdout, sx)!.Value;
        Assert.InRange(same.Accuracy, Accuracy(hc) - 0.02, Accuracy(hc) + 0.02);
        Assert.True(same.EffectiveRows > 1500, $"ESS {same.EffectiveRows:F0}");

        // Inputs the holdout never covered: the weights collapse onto few rows and the interval says so.
        var (fx, _, _) = World(500, 5, 7);
        var far = ImportanceWeighting.Estimate(holdout, fx)!.Value;
        Assert.True(far.EffectiveRows < 50, $"ESS {far.EffectiveRows:F0}");
        Assert.True(far.StandardError > 3 * iw.StandardError);
    }

    [Fact]
    public void Importance_weighting_refuses_what_it_cannot_use()
    {
        var (hx, _, hc) = World(100, 0, 8);
        var holdout = Sample(hx, hc);
        Assert.Null(ImportanceWeighting.Estimate(holdout, [[1.0, 2.0]])); // too few rows and the wrong width
        Assert.Null(ImportanceWeighting.Estimate(holdout, [[1.0, 2.0], [3.0, 4.0]])); // wrong width
        Assert.Null(ImportanceWeighting.Estimate(Sample(hx.Take(10).ToList(), hc.Take(10).ToList()), hx));
        // Non-finite inputs count as the holdout mean, not as NaN.
        var withNaN = hx.Select(r => new[] { r[0], double.NaN, r[2] }).ToList();
        Assert.True(double.IsFinite(ImportanceWeighting.Estimate(holdout, withNaN)!.Value.Accuracy));
    }

    [Fact]
    public void Every_estimator_is_evaluated_from_pooled_sums_with_an_interval()
    {
        var (hx, conf, hc) = World(2000, 0, 9);
        var rows = hx.Select((x, i) => new Observation(x.Select(v => (float)v).ToArray(), 1, (float)conf[i], hc[i] ? 1 : 0)).ToList();
        var calibration = ConfidenceCalibration.Fit(rows, InputSummary.RawColumns(3));
        Assert.NotNull(calibration.Atc);
        Assert.Equal(2000, calibration.Holdout!.Rows.Count);

        var (cx, cconf, cc) = World(1000, 0.7, 10);
        var current = cx.Select((x, i) => new Observation(x.Select(v => (float)v).ToArray(), 1, (float)cconf[i])).ToArray();
        var options = new TriggerOptions();
        var tracker = new PerformanceTracker(calibration, options, InputSummary.RawColumns(3));
        var e = tracker.Record(tracker.Measure(current), drifted: true);
        Assert.Equal(AccuracyEstimators.Names, e.Estimates.Select(r => r.Name).ToArray());
        double truth = Accuracy(cc);
        Assert.Equal(AccuracyEstimators.Median, e.Estimator);
        // The median is of the four (BBSE is reported beside them, not in it).
        var four = e.Estimates.Where(r => r.Name is not (AccuracyEstimators.Median or AccuracyEstimators.Bbse)).Select(r => r.Accuracy).Order().ToArray();
        Assert.Equal(4, four.Length);
        Assert.Equal((four[1] + four[2]) / 2, e.EstimatedAccuracy!.Value, 12);
        var iw = e.Estimates.Single(r => r.Name == AccuracyEstimators.Iw);
        Assert.InRange(truth, iw.Lower - 0.02, iw.Upper + 0.02); // covariate shift with p(correct | x) fixed: IW's premise
        Assert.All(e.Estimates, r =>
        {
            Assert.True(r.Lower <= r.Accuracy && r.Accuracy <= r.Upper, r.Name);
            Assert.True(r.DropLower < r.Drop && r.Drop < r.DropUpper, r.Name);
        });
        var checks = e.Estimates.Where(r => r.Name != AccuracyEstimators.Bbse).ToList();
        Assert.Equal(checks.Max(r => r.Drop) - checks.Min(r => r.Drop), e.Disagreement!.Value, 12);
    }

    [Fact]
    public void Unknown_estimator_names_are_refused_in_one_line()
    {
        var ex = Assert.Throws<DriftInputException>(() => new TriggerOptions { Estimator = "magic" }.Validate());
        Assert.Equal("Estimator 'magic' is not an accuracy estimator: use one of cbpe, atc, doc, iw, bbse, median.", ex.Message);
        Assert.Throws<DriftInputException>(() => new TriggerOptions { CrossCheck = ["atc", "nope"] }.Validate());
        Assert.Null(AccuracyEstimators.Problem("iw", "x"));
    }
}
