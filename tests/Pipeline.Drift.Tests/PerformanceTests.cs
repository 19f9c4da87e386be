using Pipeline.Drift.Monitoring;
using Pipeline.Drift.Performance;

namespace Pipeline.Drift.Tests;

public class PerformanceTests
{
    private static double Sigmoid(double z) => 1 / (1 + Math.Exp(-z));

    /// <summary>Top-class confidences of a model over-confident by temperature <paramref name="t"/>: P(correct) = σ(logit(c)/t).</summary>
    private static (List<double> Conf, List<bool> Correct) Overconfident(int n, double t, int seed, double meanLogit = 2.5)
    {
        var r = new Random(seed);
        var conf = new List<double>(n);
        var correct = new List<bool>(n);
        for (int i = 0; i < n; i++)
        {
            double z = meanLogit + 1.5 * Synth.Normal(r);
            conf.Add(Sigmoid(z));
            correct.Add(r.NextDouble() < Sigmoid(z / t));
        }
        return (conf, correct);
    }

    [Fact]
    public void Temperature_scaling_recovers_the_overconfidence_and_the_estimate_matches_accuracy()
    {
        var (conf, correct) = Overconfident(20000, 2.0, seed: 1);
        var c = ConfidenceCalibration.Fit(conf, correct);
        Assert.InRange(c.Temperature, 1.85, 2.15);
        Assert.True(c.EceAfter < c.EceBefore / 3, $"ECE {c.EceBefore:F3} → {c.EceAfter:F3}");
        Assert.True(c.ReferenceMeanConfidence > c.ReferenceAccuracy + 0.03); // the raw confidence overstates accuracy
        Assert.InRange(c.ReferenceEstimatedAccuracy, c.ReferenceAccuracy - 0.01, c.ReferenceAccuracy + 0.01);

        // On fresh data from a harder distribution (lower logits), the calibrated mean tracks the new accuracy.
        var (hard, hardCorrect) = Overconfident(20000, 2.0, seed: 2, meanLogit: 1.0);
        double estimate = hard.Average(c.Calibrate);
        double truth = hardCorrect.Count(x => x) / (double)hardCorrect.Count;
        Assert.InRange(estimate, truth - 0.015, truth + 0.015);
    }

    [Fact]
    public void Calibration_refuses_too_few_rows_and_mismatched_inputs()
    {
        Assert.Throws<DriftInputException>(() => ConfidenceCalibration.Fit(Enumerable.Repeat(0.9, 49).ToList(), Enumerable.Repeat(true, 49).ToList()));
        Assert.Throws<DriftInputException>(() => ConfidenceCalibration.Fit([0.9, 0.8], [true]));
        // Out-of-range confidences are skipped, not fitted.
        var conf = Enumerable.Repeat(0.9, 60).Concat([double.NaN, 1.5, -0.1]).ToList();
        var c = ConfidenceCalibration.Fit(conf, conf.Select((_, i) => i % 10 != 0).ToList());
        Assert.Equal(60, c.Rows);
    }

    private static ConfidenceCalibration Calibration(double accuracy = 0.85, int rows = 2000, double std = 0.2) => new()
    {
        Temperature = 1, Rows = rows, ReferenceAccuracy = accuracy, ReferenceEstimatedAccuracy = accuracy, ReferenceEstimateStd = std,
    };

    private static PerformanceSums Sums(int rows, double mean, double std, int labelled = 0, int correct = 0) => new()
    {
        Rows = rows, SumCalibrated = mean * rows, SumCalibratedSquared = (std * std + mean * mean) * rows, Labelled = labelled, Correct = correct,
    };

    [Fact]
    public void The_estimate_and_its_interval_follow_the_normal_approximation()
    {
        var e = PerformanceEstimate.From(Sums(1000, 0.80, 0.2, labelled: 400, correct: 300), 2, Calibration(), 1.96);
        Assert.Equal(0.80, e.EstimatedAccuracy!.Value, 9);
        double se = 0.2 / Math.Sqrt(1000);
        Assert.Equal(0.80 - 1.96 * se, e.EstimatedLower!.Value, 9);
        Assert.Equal(0.05, e.EstimatedDrop!.Value, 9);
        Assert.Equal(0.05 - 1.96 * Math.Sqrt(se * se + 0.04 / 2000), e.EstimatedDropLower!.Value, 9);
        Assert.Equal(0.75, e.ObservedAccuracy!.Value, 9);
        Assert.Equal(0.10, e.ObservedDrop!.Value, 9);
        Assert.Equal(0.10 - 1.96 * Math.Sqrt(0.75 * 0.25 / 400 + 0.85 * 0.15 / 2000), e.ObservedDropLower!.Value, 9);
        Assert.Equal(2, e.Windows);

        var none = PerformanceEstimate.From(Sums(1000, 0.8, 0.2), 1, null, 1.96);
        Assert.Null(none.EstimatedAccuracy);
        Assert.Null(none.ObservedAccuracy);
    }

    private static readonly TriggerPolicy Policy = new();

    private static TriggerDecision Decide(PerformanceSums sums, ConfidenceCalibration? calibration = null, int consecutive = 2) =>
        Policy.Decide(true, consecutive, 2, PerformanceEstimate.From(sums, 2, calibration ?? Calibration(), Policy.Options.Z));

    [Fact]
    public void Drift_starts_a_run_only_when_confirmed_and_the_accuracy_drop_is_significant_and_large_enough()
    {
        Assert.Equal(TriggerOutcome.NoDrift, Policy.Decide(false, 0, 2, null).Outcome);
        var pending = Decide(Sums(1000, 0.5, 0.2), consecutive: 1);
        Assert.Equal(TriggerOutcome.DriftPending, pending.Outcome);
        Assert.False(pending.StartRun);

        var harm = Decide(Sums(1000, 0.75, 0.2));
        Assert.True(harm.StartRun);
        Assert.Equal(TriggerOutcome.DriftWithHarm, harm.Outcome);
        Assert.Contains("accuracy hurt", harm.Reason, StringComparison.Ordinal);
        Assert.Contains("10.0 points", harm.Reason, StringComparison.Ordinal);

        var small = Decide(Sums(1000, 0.84, 0.2)); // 1 point: real but below the minimum
        Assert.False(small.StartRun);
        Assert.Equal(TriggerOutcome.DriftWithoutHarm, small.Outcome);
        Assert.StartsWith("drift without harm", small.Reason, StringComparison.Ordinal);
        Assert.EndsWith("no run", small.Reason, StringComparison.Ordinal);

        var noisy = Decide(Sums(150, 0.82, 0.3)); // 3 points on 150 rows: the interval reaches zero
        Assert.False(noisy.StartRun);
        Assert.Equal(TriggerOutcome.DriftWithoutHarm, noisy.Outcome);

        var few = Decide(Sums(40, 0.82, 0.3)); // 40 rows: too few to estimate at all
        Assert.False(few.StartRun);
        Assert.Equal(TriggerOutcome.TooFewRows, few.Outcome);
    }

    [Fact]
    public void Enough_labels_decide_instead_of_the_estimate_both_ways()
    {
        // Confidently wrong: the estimate sees no drop, 500 labels show a large one.
        var labelled = Decide(Sums(1000, 0.85, 0.15, labelled: 500, correct: 300));
        Assert.True(labelled.StartRun);
        Assert.Contains("observed accuracy 60.0", labelled.Reason, StringComparison.Ordinal);
        Assert.Contains("labels decide", labelled.Reason, StringComparison.Ordinal);

        // Less confident but as accurate as ever: the estimate says 5 points, 1000 labels say none.
        var unhurt = Decide(Sums(1000, 0.80, 0.15, labelled: 1000, correct: 852));
        Assert.False(unhurt.StartRun);
        Assert.Equal(TriggerOutcome.DriftWithoutHarm, unhurt.Outcome);

        var few = Decide(Sums(1000, 0.85, 0.15, labelled: 100, correct: 60)); // below MinLabelledRows (500): the estimate decides
        Assert.False(few.StartRun);
        Assert.DoesNotContain("observed", few.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void When_labels_come_back_for_the_model_an_estimated_harm_waits_a_few_windows_for_them()
    {
        var policy = new TriggerPolicy(new TriggerOptions { LabelWaitWindows = 2 });
        PerformanceEstimate Evidence(int labelled, int correct) => PerformanceEstimate.From(Sums(1000, 0.78, 0.2, labelled, correct), 2, Calibration(), 1.96);

        var wait = policy.Decide(true, 2, 2, Evidence(100, 84), labelsExpected: true);
        Assert.Equal(TriggerOutcome.AwaitingLabels, wait.Outcome);
        Assert.False(wait.StartRun);
        Assert.Contains("waiting for them (2 more window(s) at most)", wait.Reason, StringComparison.Ordinal);
        Assert.Equal(TriggerOutcome.AwaitingLabels, policy.Decide(true, 3, 2, Evidence(300, 250), labelsExpected: true).Outcome);
        // The labels arrived and say no harm: no run.
        Assert.Equal(TriggerOutcome.DriftWithoutHarm, policy.Decide(true, 3, 2, Evidence(600, 510), labelsExpected: true).Outcome);
        // They never came: after the wait the estimate decides.
        Assert.True(policy.Decide(true, 4, 2, Evidence(100, 84), labelsExpected: true).StartRun);
        // A model whose labels never come back does not wait at all.
        Assert.True(policy.Decide(true, 2, 2, Evidence(0, 0), labelsExpected: false).StartRun);
    }

    [Fact]
    public void Without_a_calibration_or_labels_drift_alone_decides_and_says_so()
    {
        var unknown = Policy.Decide(true, 2, 2, PerformanceEstimate.From(Sums(1000, 0.8, 0.2), 2, null, 1.96));
        Assert.True(unknown.StartRun);
        Assert.Equal(TriggerOutcome.HarmUnknown, unknown.Outcome);
        Assert.Contains("cannot be assessed", unknown.Reason, StringComparison.Ordinal);

        var off = new TriggerPolicy(new TriggerOptions { RequireHarm = false }).Decide(true, 2, 2, PerformanceEstimate.From(Sums(1000, 0.85, 0.2), 2, Calibration(), 1.96));
        Assert.True(off.StartRun);
        Assert.Throws<DriftInputException>(() => new TriggerPolicy(new TriggerOptions { MinAccuracyDrop = -0.1 }));
        Assert.Throws<DriftInputException>(() => new TriggerPolicy(new TriggerOptions { ConfidenceLevel = 1 }));
        Assert.Equal(1.959964, new TriggerOptions().Z, 5);
    }

    /// <summary>Rows like <see cref="Synth.Rows"/> with features shifted by <paramref name="shift"/> and a chosen confidence range.</summary>
    private static List<Observation> Traffic(int n, double shift, int seed, float confLow, bool labels = false) =>
        Synth.Rows(n, 5, shift, seed).Select((r, i) => r with
        {
            Confidence = confLow + (1 - confLow) * (float)new Random(seed * 31 + i).NextDouble(),
            Label = labels ? r.Label : null,
        }).ToList();

    private static DriftMonitor Monitor(ConfidenceCalibration? calibration, int evidenceWindows = 8)
    {
        var profile = ReferenceProfile.Build("m1", 1, Traffic(3000, 0, 1, 0.6f));
        var reference = Traffic(2000, 0, 9, 0.6f);
        // Reference outcomes drawn at the confidence: a calibrated model.
        var rng = new Random(5);
        profile.Performance = calibration ?? ConfidenceCalibration.Fit(
            reference.Select(r => (double)r.Confidence).ToList(), reference.Select(r => rng.NextDouble() < r.Confidence).ToList());
        return new DriftMonitor(profile, new MonitorOptions
        {
            WindowSize = 500, ConsecutiveWindowsToRaise = 2, Trigger = new TriggerOptions { MaxEvidenceWindows = evidenceWindows },
        });
    }

    [Fact]
    public void A_monitor_records_drift_without_harm_and_raises_when_confidence_falls()
    {
        var harmless = Monitor(null);
        var windows = harmless.Ingest(Traffic(3000, 0.8, 3, 0.6f)).Windows;
        Assert.Equal(6, windows.Count);
        Assert.All(windows, w => Assert.True(w.DatasetDrift));
        Assert.Equal(TriggerOutcome.DriftPending, windows[0].Trigger!.Outcome);
        Assert.All(windows.Skip(1), w =>
        {
            Assert.Equal(TriggerOutcome.DriftWithoutHarm, w.Trigger!.Outcome);
            Assert.False(w.Raise);
            Assert.Null(w.SuppressedReason);
        });
        // The streak keeps pooling evidence, capped at MaxEvidenceWindows.
        Assert.Equal(6, windows[^1].Performance!.Windows);
        Assert.Equal(3000, windows[^1].Performance!.Rows);

        var harmful = Monitor(null);
        var hurt = harmful.Ingest(Traffic(1000, 0.8, 4, 0.3f)).Windows;
        Assert.False(hurt[0].Raise);
        Assert.True(hurt[1].Raise);
        Assert.Equal(TriggerOutcome.DriftWithHarm, hurt[1].Trigger!.Outcome);
        Assert.True(hurt[1].Performance!.EstimatedDrop > 0.1);
        Assert.True(harmful.State.RunInFlight);
    }

    [Fact]
    public void Late_feedback_counts_as_observed_accuracy_and_clean_windows_do_not_raise()
    {
        var monitor = Monitor(null);
        var clean = monitor.Ingest(Traffic(1000, 0, 5, 0.6f)).Windows;
        Assert.All(clean, w => Assert.Equal(TriggerOutcome.NoDrift, w.Trigger!.Outcome));
        Assert.InRange(clean[0].Performance!.EstimatedDrop!.Value, -0.02, 0.02);

        // Confident as ever, but the feedback says half the predictions were wrong.
        monitor.Ingest(Traffic(500, 0.8, 6, 0.6f));
        monitor.RecordFeedback(600, 300);
        var w = monitor.Ingest(Traffic(500, 0.8, 7, 0.6f)).Windows.Single();
        Assert.True(w.Raise);
        Assert.Equal(600, w.Performance!.LabelledRows);
        Assert.Contains("observed accuracy 50.0", w.Trigger!.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Suppression_still_applies_to_harmful_drift_and_says_why()
    {
        var monitor = Monitor(null);
        monitor.Pause();
        var w = monitor.Ingest(Traffic(1000, 0.8, 8, 0.3f)).Windows[1];
        Assert.False(w.Raise);
        Assert.Equal("paused", w.SuppressedReason);
        Assert.False(w.Trigger!.StartRun);
        Assert.EndsWith("run suppressed: paused", w.Trigger.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_window_of_a_version_without_calibration_serialises_to_json()
    {
        // The service stores every window report as JSON; NaN would make that throw.
        var monitor = new DriftMonitor(ReferenceProfile.Build("m1", 1, Traffic(1000, 0, 1, 0.6f)), new MonitorOptions { WindowSize = 500 });
        var window = monitor.Ingest(Traffic(500, 0.8, 2, 0.6f)).Windows.Single();
        Assert.Null(window.Performance!.ReferenceAccuracy);
        var json = System.Text.Json.JsonSerializer.Serialize(window, new System.Text.Json.JsonSerializerOptions(System.Text.Json.JsonSerializerDefaults.Web));
        Assert.Contains("\"trigger\":{\"outcome\":\"drift_pending\"", json, StringComparison.Ordinal);
    }

    [Fact]
    public void The_calibration_survives_the_profile_json()
    {
        var profile = ReferenceProfile.Build("m1", 1, Traffic(500, 0, 1, 0.6f));
        profile.Performance = Calibration(0.9);
        var back = ReferenceProfile.FromJson(profile.ToJson());
        Assert.Equal(profile.Performance, back.Performance);
        Assert.Contains("\"reference_accuracy\"", profile.ToJson(), StringComparison.Ordinal);
        profile.Performance = Calibration() with { Temperature = -1 };
        Assert.Throws<DriftInputException>(() => ReferenceProfile.FromJson(profile.ToJson()));
    }
}
