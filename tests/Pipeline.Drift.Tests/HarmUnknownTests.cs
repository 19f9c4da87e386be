using Pipeline.Drift.Monitoring;
using Pipeline.Drift.Performance;

namespace Pipeline.Drift.Tests;

/// <summary>When the estimate cannot tell harm from no harm, the window says "labels needed" and does not call the drift harmless.</summary>
public class HarmUnknownTests
{
    private static readonly ConfidenceCalibration Calibration = new()
    {
        Temperature = 1, Rows = 2000, ReferenceAccuracy = 0.85, ReferenceEstimatedAccuracy = 0.85, ReferenceEstimateStd = 0.2,
        ReferenceMeanConfidence = 0.9, ReferenceConfidenceStd = 0.1,
        Atc = new AtcThreshold { Threshold = 0.8, Rows = 2000, ReferenceAccuracy = 0.85, ReferenceLevel = 0.85 },
    };

    /// <summary>1000 rows: ATC sees <paramref name="atc"/> above its threshold; importance weighting says <paramref name="iw"/> ± <paramref name="iwSe"/>.</summary>
    private static PerformanceSums Sums(double atc, double iw, double iwSe = 0.01, int rows = 1000, int labelled = 0, int correct = 0) => new()
    {
        Rows = rows, SumCalibrated = 0.85 * rows, SumCalibratedSquared = (0.04 + 0.85 * 0.85) * rows,
        SumConfidence = 0.9 * rows, SumConfidenceSquared = (0.01 + 0.81) * rows, AtcAbove = (int)Math.Round(atc * rows),
        IwRows = rows, IwWeighted = iw * rows, IwVariance = (double)rows * rows * iwSe * iwSe, IwEffectiveRows = 500,
        Labelled = labelled, Correct = correct,
    };

    /// <summary>ATC decides, importance weighting cross-checks (the defaults use the median of all four, tested below).</summary>
    private static readonly TriggerOptions AtcIw = new() { Estimator = AccuracyEstimators.Atc, CrossCheck = [AccuracyEstimators.Iw] };

    private static TriggerDecision Decide(TriggerOptions o, PerformanceSums s, int consecutive = 2) =>
        new TriggerPolicy(o).Decide(true, consecutive, 2, PerformanceEstimate.From(s, 2, Calibration, o));

    [Fact]
    public void Estimators_that_disagree_on_harm_make_it_unknown_and_never_harmless()
    {
        var o = AtcIw;
        // ATC: no drop; IW: 15 points down. The spread (15 points) exceeds MaxDisagreement (5).
        var d = Decide(o, Sums(atc: 0.85, iw: 0.70));
        Assert.Equal(TriggerOutcome.LabelsNeeded, d.Outcome);
        Assert.False(d.StartRun);
        Assert.StartsWith("drift, harm unknown: labels needed", d.Reason, StringComparison.Ordinal);
        Assert.Contains("estimators disagree by 15.0 points", d.Reason, StringComparison.Ordinal);
        // After LabelWaitWindows (3) windows without labels the estimate decides, but an unsure "no harm" stays unknown.
        var later = Decide(o, Sums(atc: 0.85, iw: 0.70), consecutive: 5);
        Assert.Equal(TriggerOutcome.LabelsNeeded, later.Outcome);
        Assert.Contains("does not call drift harmless", later.Reason, StringComparison.Ordinal);
        // An unsure "harm" starts the run after the wait.
        Assert.Equal(TriggerOutcome.LabelsNeeded, Decide(o, Sums(atc: 0.75, iw: 0.84)).Outcome);
        var run = Decide(o, Sums(atc: 0.75, iw: 0.84), consecutive: 5);
        Assert.True(run.StartRun);
        Assert.Contains("unsure", run.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Agreeing_estimators_decide_at_once_both_ways_and_harm_known_by_all_is_not_unknown()
    {
        var o = AtcIw;
        Assert.Equal(TriggerOutcome.DriftWithoutHarm, Decide(o, Sums(atc: 0.845, iw: 0.85)).Outcome);
        Assert.Equal(TriggerOutcome.DriftWithHarm, Decide(o, Sums(atc: 0.75, iw: 0.74)).Outcome);
        // Far apart, but both say a large drop: the harm is known even if its size is not.
        var both = Decide(o, Sums(atc: 0.75, iw: 0.60));
        Assert.True(both.StartRun);
        Assert.Equal(TriggerOutcome.DriftWithHarm, both.Outcome);
    }

    [Fact]
    public void The_default_decides_on_the_median_and_one_failing_estimator_does_not_move_it()
    {
        var o = new TriggerOptions();
        // CBPE and DoC say no drop (0.85), ATC says 0.84, IW fails wildly (0.40): the median is 0.845.
        var e = PerformanceEstimate.From(Sums(atc: 0.84, iw: 0.40), 2, Calibration, o);
        Assert.Equal(AccuracyEstimators.Median, e.Estimator);
        Assert.Equal(0.845, e.EstimatedAccuracy!.Value, 6);
        Assert.Equal(0.45, e.Disagreement!.Value, 6);
        var d = new TriggerPolicy(o).Decide(true, 2, 2, e);
        Assert.Equal(TriggerOutcome.LabelsNeeded, d.Outcome); // the spread still says the harm is unknown
    }

    [Fact]
    public void A_wide_interval_makes_the_harm_unknown_and_labels_required_waits_for_labels()
    {
        var required = new TriggerOptions { LabelsRequired = true, Estimator = AccuracyEstimators.Iw, CrossCheck = [] };
        var wide = Decide(required, Sums(atc: 0.85, iw: 0.80, iwSe: 0.05), consecutive: 20);
        Assert.Equal(TriggerOutcome.LabelsNeeded, wide.Outcome);
        Assert.Contains("interval is", wide.Reason, StringComparison.Ordinal);
        Assert.Contains("LabelsRequired", wide.Reason, StringComparison.Ordinal);
        // The labels came: they decide.
        var labelled = Decide(required, Sums(atc: 0.85, iw: 0.80, iwSe: 0.05, labelled: 600, correct: 420), consecutive: 20);
        Assert.Equal(TriggerOutcome.DriftWithHarm, labelled.Outcome);
    }

    [Fact]
    public void Too_few_rows_to_estimate_says_so_and_does_not_decide()
    {
        var o = new TriggerOptions();
        var e = PerformanceEstimate.From(Sums(atc: 0.5, iw: 0.5, rows: 60), 1, Calibration, o);
        Assert.Empty(e.Estimates);
        Assert.Null(e.EstimatedAccuracy);
        Assert.Contains("too few rows to estimate accuracy (60, 100 needed)", e.Uncertain, StringComparison.Ordinal);
        var d = new TriggerPolicy(o).Decide(true, 2, 2, e);
        Assert.Equal(TriggerOutcome.TooFewRows, d.Outcome);
        Assert.False(d.StartRun);
    }

    [Fact]
    public void A_monitor_flushing_a_small_window_reports_too_few_rows()
    {
        var rows = Synth.Rows(3000, 4, 0, 1);
        var profile = ReferenceProfile.Build("m", 1, rows);
        profile.Performance = ConfidenceCalibration.Fit(Synth.Rows(2000, 4, 0, 2), profile.Summary);
        var monitor = new DriftMonitor(profile, new MonitorOptions { WindowSize = 500, ConsecutiveWindowsToRaise = 1 });
        monitor.Ingest(Synth.Rows(60, 4, 3.0, 3).Cast<Observation?>().ToList());
        var w = monitor.Flush().Single();
        Assert.Equal(WindowStatus.Evaluated, w.Status);
        Assert.True(w.DatasetDrift);
        Assert.Equal(TriggerOutcome.TooFewRows, w.Trigger!.Outcome);
        Assert.False(w.Raise);
    }
}
