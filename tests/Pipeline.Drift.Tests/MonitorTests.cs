using Pipeline.Drift.Monitoring;

namespace Pipeline.Drift.Tests;

public class MonitorTests
{
    private sealed class FakeTime : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);
        public override DateTimeOffset GetUtcNow() => Now;
    }

    private static ReferenceProfile Profile(int width = 5, int n = 3000, int seed = 1, ProfileOptions? o = null) =>
        ReferenceProfile.Build("m1", 1, Synth.Rows(n, width, 0, seed), o);

    private static MonitorOptions Opts(int window = 500, int consecutive = 2) => new()
    {
        WindowSize = window,
        ConsecutiveWindowsToRaise = consecutive,
        Cooldown = TimeSpan.FromMinutes(10),
    };

    [Fact]
    public void No_drift_windows_do_not_raise_and_drifted_ones_raise_after_hysteresis()
    {
        var monitor = new DriftMonitor(Profile(), Opts());
        var clean = monitor.Ingest(Synth.Rows(1000, 5, 0, 2)).Windows;
        Assert.Equal(2, clean.Count);
        Assert.All(clean, w =>
        {
            Assert.Equal(WindowStatus.Evaluated, w.Status);
            Assert.False(w.DatasetDrift);
            Assert.False(w.Raise);
            Assert.Equal(500, w.Rows);
        });

        var shifted = monitor.Ingest(Synth.Rows(1500, 5, 0.8, 3)).Windows;
        Assert.Equal(3, shifted.Count);
        Assert.True(shifted[0].DatasetDrift);
        Assert.False(shifted[0].Raise); // first drifted window: hysteresis not met
        Assert.Equal(1, shifted[0].ConsecutiveDriftedWindows);
        Assert.True(shifted[1].Raise);
        Assert.Equal(DriftSeverity.High, shifted[1].Severity);
        Assert.Equal(1.0, shifted[1].ShareDrifted);
        Assert.NotEmpty(shifted[1].TopFeatures);
        // After raising, a run is considered in flight: the next drifted windows are suppressed.
        Assert.False(shifted[2].Raise);
        Assert.True(monitor.State.RunInFlight);
    }

    [Fact]
    public void Cooldown_and_pause_suppress_raises_with_reason()
    {
        var time = new FakeTime();
        var monitor = new DriftMonitor(Profile(), Opts(consecutive: 1), time);
        monitor.AdaptationFinished();
        var w = monitor.Ingest(Synth.Rows(500, 5, 1.0, 4)).Windows.Single();
        Assert.True(w.DatasetDrift);
        Assert.False(w.Raise);
        Assert.Equal("cooldown", w.SuppressedReason);

        time.Now += TimeSpan.FromMinutes(11);
        monitor.Pause();
        w = monitor.Ingest(Synth.Rows(500, 5, 1.0, 5)).Windows.Single();
        Assert.Equal("paused", w.SuppressedReason);
        Assert.False(w.Raise);

        monitor.Resume();
        w = monitor.Ingest(Synth.Rows(500, 5, 1.0, 6)).Windows.Single();
        Assert.True(w.Raise);
        Assert.Null(w.SuppressedReason);

        w = monitor.Ingest(Synth.Rows(500, 5, 1.0, 7)).Windows.Single();
        Assert.Equal("run_in_flight", w.SuppressedReason);
        monitor.RunAbandoned();
        w = monitor.Ingest(Synth.Rows(500, 5, 1.0, 8)).Windows.Single();
        Assert.True(w.Raise);
    }

    [Fact]
    public void Sliding_windows_close_every_step_and_overlap()
    {
        var o = Opts(window: 400) with { Window = WindowKind.Sliding, Overlap = 300 };
        var monitor = new DriftMonitor(Profile(), o);
        var res = monitor.Ingest(Synth.Rows(1000, 5, 0, 9));
        // windows close at 400, 500, …, 1000 rows
        Assert.Equal(7, res.Windows.Count);
        Assert.All(res.Windows, w => Assert.Equal(400, w.Rows));
        Assert.Equal(Enumerable.Range(1, 7).Select(i => (long)i), res.Windows.Select(w => w.WindowId));
    }

    [Fact]
    public void Bad_rows_are_rejected_counted_and_reported_never_thrown()
    {
        var monitor = new DriftMonitor(Profile(), Opts(window: 100));
        var rows = Synth.Rows(100, 5, 0, 10).Cast<Observation?>().ToList();
        rows.Insert(3, null);
        rows.Insert(7, new Observation(new float[4], 0, 0.9f));
        rows[20] = rows[20]! with { Features = [float.NaN, float.PositiveInfinity, float.NegativeInfinity, 1, 2] };
        rows[21] = rows[21]! with { Confidence = float.NaN, PredictedClass = 42 };
        var res = monitor.Ingest(rows);
        Assert.Equal(100, res.Accepted);
        Assert.Equal(2, res.Rejected);
        var w = Assert.Single(res.Windows);
        Assert.Equal(WindowStatus.Evaluated, w.Status);
        Assert.Equal(2, w.RejectedRows);
        Assert.Contains(w.Problems, p => p.Contains("4 columns, expected 5", StringComparison.Ordinal));
        Assert.Contains(w.Problems, p => p.Contains("null row", StringComparison.Ordinal));
        Assert.Contains(w.Problems, p => p.Contains("3 non-finite feature values excluded", StringComparison.Ordinal));
        Assert.Contains(w.Problems, p => p.Contains("unseen in the reference: 42", StringComparison.Ordinal));
        Assert.Equal(99, w.Features[0].Count);
        Assert.Equal(1, w.Features[0].Excluded);
        Assert.All(w.Features, f => Assert.InRange(f.PValue!.Value, 0, 1));
        Assert.Null(monitor.Ingest(null).Windows.FirstOrDefault());
    }

    [Fact]
    public void Tiny_partial_window_is_reported_as_insufficient_not_dropped()
    {
        var monitor = new DriftMonitor(Profile(), Opts(window: 500));
        Assert.Empty(monitor.Ingest(Synth.Rows(10, 5, 0, 11)).Windows);
        var w = Assert.Single(monitor.Flush());
        Assert.Equal(WindowStatus.InsufficientData, w.Status);
        Assert.Equal(10, w.Rows);
        Assert.True(w.Partial);
        Assert.False(w.Raise);
        Assert.Empty(monitor.Flush());

        monitor.Ingest(Synth.Rows(200, 5, 0, 12));
        var partial = Assert.Single(monitor.Flush());
        Assert.Equal(WindowStatus.Evaluated, partial.Status);
        Assert.Equal(200, partial.Rows);
    }

    [Fact]
    public void Window_of_all_non_finite_feature_marks_that_feature_not_evaluated()
    {
        var monitor = new DriftMonitor(Profile(), Opts(window: 100));
        var rows = Synth.Rows(100, 5, 0, 13).Select(r => r with { Features = [float.NaN, .. r.Features[1..]] }).ToList();
        var w = Assert.Single(monitor.Ingest(rows).Windows);
        Assert.Equal(4, w.EvaluatedFeatures);
        Assert.NotNull(w.Features[0].Note);
        Assert.False(w.Features[0].Drifted);
        Assert.Null(w.Features[0].PValue);
    }

    [Fact]
    public void Constant_feature_is_handled()
    {
        var refRows = Synth.Rows(1000, 3, 0, 14).Select(r => r with { Features = [r.Features[0], r.Features[1], 5f] }).ToList();
        var profile = ReferenceProfile.Build("m", 1, refRows);
        var monitor = new DriftMonitor(profile, Opts(window: 200));
        var same = Synth.Rows(200, 3, 0, 15).Select(r => r with { Features = [r.Features[0], r.Features[1], 5f] }).ToList();
        var w = Assert.Single(monitor.Ingest(same).Windows);
        Assert.Equal(0.0, w.Features[2].KsStatistic);
        Assert.Equal(1.0, w.Features[2].PValue);
        Assert.False(w.Features[2].Drifted);
        var moved = Synth.Rows(200, 3, 0, 16).Select(r => r with { Features = [r.Features[0], r.Features[1], 6f] }).ToList();
        w = Assert.Single(monitor.Ingest(moved).Windows);
        Assert.Equal(1.0, w.Features[2].KsStatistic);
        Assert.True(w.Features[2].Drifted);
    }

    [Fact]
    public void Categorical_feature_with_unseen_category()
    {
        var refRows = Synth.Rows(1000, 2, 0, 17).Select((r, i) => r with { Features = [r.Features[0], i % 3] }).ToList();
        var profile = ReferenceProfile.Build("m", 1, refRows, new ProfileOptions { CategoricalFeatures = new HashSet<int> { 1 } });
        Assert.Equal("categorical", profile.Features[1].Kind);
        var monitor = new DriftMonitor(profile, Opts(window: 300));
        var cur = Synth.Rows(300, 2, 0, 18).Select((r, i) => r with { Features = [r.Features[0], i % 4] }).ToList();
        var w = Assert.Single(monitor.Ingest(cur).Windows);
        Assert.Equal(["3"], w.Features[1].UnseenCategories!);
        Assert.True(w.Features[1].Drifted);
        Assert.NotNull(w.Features[1].ChiSquared);
        Assert.Contains(w.Problems, p => p.Contains("categories unseen", StringComparison.Ordinal));
    }

    [Fact]
    public void Images_are_summarised_pooled_and_shift_is_detected_with_mmd()
    {
        var profile = ReferenceProfile.Build("img", 1, Synth.Images(1500, 19),
            new ProfileOptions { Summary = InputSummary.Image(), MmdSampleSize = 200 });
        Assert.Equal(52, profile.Features.Count);
        Assert.Equal("features", profile.Multivariate!.Source);
        var o = Opts(window: 300, consecutive: 1) with { MmdPermutations = 100, MmdMaxPoints = 200 };
        var monitor = new DriftMonitor(profile, o);
        var clean = Assert.Single(monitor.Ingest(Synth.Images(300, 20)).Windows);
        Assert.False(clean.DatasetDrift);
        Assert.False(clean.MmdDrifted);
        var shifted = Assert.Single(monitor.Ingest(Synth.Images(300, 21, dx: 4)).Windows);
        Assert.True(shifted.MmdDrifted);
        Assert.True(shifted.DatasetDrift);
        Assert.True(shifted.Raise);
        Assert.Contains(shifted.TopFeatures, n => n.StartsWith("pool_", StringComparison.Ordinal));
    }

    [Fact]
    public void Mmd_on_embeddings_when_profile_has_them()
    {
        var profile = ReferenceProfile.Build("img", 1, Synth.Images(600, 22, embedding: true),
            new ProfileOptions { Summary = InputSummary.Image(), MmdSampleSize = 200 });
        Assert.Equal("embedding", profile.Multivariate!.Source);
        Assert.Equal(3, profile.Multivariate.Dimension);
        var monitor = new DriftMonitor(profile, Opts(window: 200, consecutive: 1) with { MmdPermutations = 100 });
        var w = Assert.Single(monitor.Ingest(Synth.Images(200, 23, dx: 3, embedding: true)).Windows);
        Assert.NotNull(w.Mmd);
        Assert.True(w.MmdDrifted);
        // Rows without embeddings: MMD skipped with a note, window still evaluated.
        w = Assert.Single(monitor.Ingest(Synth.Images(200, 24)).Windows);
        Assert.Null(w.Mmd);
        Assert.Contains(w.Problems, p => p.Contains("MMD", StringComparison.Ordinal));
    }

    [Fact]
    public void Prediction_drift_detects_class_distribution_change()
    {
        var monitor = new DriftMonitor(Profile(), Opts(window: 500, consecutive: 1));
        var rows = Synth.Rows(500, 5, 0, 25).Select(r => r with { PredictedClass = 1 }).ToList();
        var w = Assert.Single(monitor.Ingest(rows).Windows);
        Assert.NotNull(w.Prediction);
        Assert.True(w.Prediction!.Drifted);
        Assert.Equal(DriftSeverity.Low, w.Severity); // features did not move
        Assert.InRange(w.Prediction.Accuracy!.Value, 0.3, 0.7);
    }

    [Fact]
    public void Options_and_profile_errors_throw_specific_exception()
    {
        Assert.Throws<DriftInputException>(() => new DriftMonitor(Profile(), new MonitorOptions { WindowSize = 1 }));
        Assert.Throws<DriftInputException>(() => new DriftMonitor(Profile(),
            new MonitorOptions { Window = WindowKind.Sliding, WindowSize = 10, Overlap = 10, MinWindowRows = 5 }));
        Assert.Throws<DriftInputException>(() => ReferenceProfile.Build("m", 1, []));
        Assert.Throws<DriftInputException>(() => ReferenceProfile.Build("m", 1,
            [new Observation(new float[3], 0, 1), new Observation(new float[2], 0, 1)]));
        Assert.Throws<DriftInputException>(() => ReferenceProfile.FromJson("{not json"));
    }

    [Fact]
    public void State_round_trips_through_constructor()
    {
        var time = new FakeTime();
        var m1 = new DriftMonitor(Profile(), Opts(consecutive: 3), time);
        m1.Ingest(Synth.Rows(1000, 5, 1.0, 26));
        m1.Pause();
        var s = m1.State;
        Assert.Equal(2, s.ConsecutiveDriftedWindows);
        var m2 = new DriftMonitor(Profile(), Opts(consecutive: 3), time, s);
        m2.Resume();
        var w = Assert.Single(m2.Ingest(Synth.Rows(500, 5, 1.0, 27)).Windows);
        Assert.Equal(3, w.WindowId);
        Assert.True(w.Raise);
    }
}
