using Pipeline.Contracts;
using Pipeline.EvaluationGate;
using Pipeline.ML.Evaluation;

namespace Pipeline.ServiceLogic.Tests;

public class GatePolicyTests
{
    private static readonly GateOptions Auto = new() { Mode = GateMode.Auto, MinGain = 0.02, MaxForgetting = 0.03, MaxLatencyIncrease = 0.5 };

    /// <summary>
    /// Paired tables on <paramref name="rows"/> rows: production right on 50 % (shifted) and 90 %
    /// (original); the candidate wins or loses the given shares of rows.
    /// </summary>
    private static GateMeasurements M(double gain, double forgetting, int rows = 4000, double latencyAfter = 10, IReadOnlyList<PairedDifference>? classes = null)
    {
        var shifted = Table(rows, baseline: 0.5, difference: gain);
        var original = Table(rows, baseline: 0.9, difference: -forgetting);
        return new GateMeasurements(shifted, original, classes ?? [], LatencyJudgement.Point(10, latencyAfter));
    }

    /// <summary>Candidate wins on extra rows only (no row where it loses), a clean paired table.</summary>
    private static PairedDifference Table(int n, double baseline, double difference)
    {
        var right = (int)Math.Round(n * baseline);
        var moved = (int)Math.Round(n * Math.Abs(difference));
        return difference >= 0
            ? PairedComparison.FromCounts(right, moved, 0, n - right - moved)
            : PairedComparison.FromCounts(right - moved, 0, moved, n - right);
    }

    [Fact]
    public void A_candidate_whose_intervals_clear_every_limit_is_approved_in_auto_mode()
    {
        var (decision, reasons) = GatePolicy.Decide(M(gain: 0.10, forgetting: 0.0), Auto);
        Assert.Equal(GateDecision.Approve, decision);
        Assert.All(reasons, r => Assert.StartsWith("passed:", r, StringComparison.Ordinal));
        Assert.Contains(reasons, r => r.Contains('[', StringComparison.Ordinal)); // the interval is in the reason
    }

    [Fact]
    public void Manual_mode_asks_a_person_even_for_a_clearly_better_candidate()
    {
        var (decision, reasons) = GatePolicy.Decide(M(gain: 0.10, forgetting: 0.0), new GateOptions { Mode = GateMode.Manual });
        Assert.Equal(GateDecision.AskOperator, decision);
        Assert.Contains("manual mode", reasons[0], StringComparison.Ordinal);
    }

    [Fact]
    public void Forgetting_whose_point_estimate_passes_but_whose_interval_straddles_the_limit_is_not_approved()
    {
        // 2.5 points of forgetting on 400 rows: under the 3-point limit, but the interval reaches past it.
        var m = M(gain: 0.20, forgetting: 0.025, rows: 400);
        Assert.True(m.Forgetting < Auto.MaxForgetting);
        Assert.True(m.ForgettingInterval.Upper > Auto.MaxForgetting);

        var (auto, autoReasons) = GatePolicy.Decide(m, Auto);
        Assert.Equal(GateDecision.Reject, auto);
        Assert.Contains(autoReasons, r => r.StartsWith("undecided", StringComparison.Ordinal) && r.Contains("forgetting", StringComparison.Ordinal));

        var (manual, _) = GatePolicy.Decide(m, new GateOptions { Mode = GateMode.Manual, MaxForgetting = 0.03 });
        Assert.Equal(GateDecision.AskOperator, manual);
    }

    [Fact]
    public void The_same_forgetting_on_enough_rows_is_proven_small_and_passes()
    {
        var m = M(gain: 0.20, forgetting: 0.005, rows: 20_000);
        Assert.True(m.ForgettingInterval.Upper <= Auto.MaxForgetting);
        Assert.Equal(GateDecision.Approve, GatePolicy.Decide(m, Auto).Decision);
    }

    [Theory]
    [InlineData(-0.05, 0.00, 10)] // worse on the new data
    [InlineData(0.10, 0.08, 10)] // forgets far too much
    [InlineData(0.10, 0.00, 20)] // twice as slow
    public void A_clear_miss_is_rejected_with_the_failed_check_named(double gain, double forgetting, double latency)
    {
        var (decision, reasons) = GatePolicy.Decide(M(gain, forgetting, latencyAfter: latency), Auto);
        Assert.Equal(GateDecision.Reject, decision);
        Assert.Contains(reasons, r => r.StartsWith("failed:", StringComparison.Ordinal));
    }

    [Fact]
    public void A_collapsing_class_rejects_a_candidate_whose_mean_holds()
    {
        // Class 3: 200 rows, 90 % → 60 %; the mean over 4000 rows loses 1.5 points only.
        var collapsed = PairedComparison.FromCounts(120, 0, 60, 20);
        var m = M(gain: 0.10, forgetting: 0.0, classes: [PairedComparison.FromCounts(180, 0, 0, 20), collapsed]);
        var (decision, reasons) = GatePolicy.Decide(m, Auto);
        Assert.Equal(GateDecision.Reject, decision);
        Assert.Contains(reasons, r => r.Contains("class 1 collapses", StringComparison.Ordinal));

        // Too few rows in the class to judge it on its own: not a reason.
        var small = PairedComparison.FromCounts(6, 0, 3, 1);
        Assert.Equal(GateDecision.Approve, GatePolicy.Decide(M(0.10, 0.0, classes: [small]), Auto).Decision);
    }

    [Fact]
    public void A_relative_latency_jump_within_the_absolute_tolerance_does_not_fail()
    {
        // 0.4 → 0.9 ms is +125 %, but half a millisecond is timer noise.
        var m = M(0.10, 0.0) with { Latency = LatencyJudgement.Point(0.4, 0.9) };
        Assert.Equal(GateDecision.Approve, GatePolicy.Decide(m, Auto).Decision);
        Assert.Equal(GateDecision.Reject, GatePolicy.Decide(m, new GateOptions { LatencyToleranceMs = 0.1 }).Decision);
    }

    [Fact]
    public void Holdouts_smaller_than_the_precision_asks_for_are_refused_with_the_arithmetic()
    {
        var o = new GateOptions { Precision = 0.04, ExpectedDiscordance = 0.15, Confidence = 0.95 };
        Assert.Equal(361, o.RequiredRows); // 1.96² · 0.15 / 0.04² = 360.1
        Assert.Null(GatePolicy.InsufficientData(361, 2000, o));
        var reason = GatePolicy.InsufficientData(200, 2000, o);
        Assert.NotNull(reason);
        Assert.Contains("200 rows", reason, StringComparison.Ordinal);
        Assert.Contains("needs 361", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Measurements_derive_accuracies_gain_forgetting_and_intervals()
    {
        var m = M(gain: 0.30, forgetting: 0.05, latencyAfter: 12);
        Assert.Equal(0.50, m.ShiftedBefore, 10);
        Assert.Equal(0.80, m.ShiftedAfter, 10);
        Assert.Equal(0.30, m.Gain, 10);
        Assert.Equal(0.05, m.Forgetting, 10);
        Assert.Equal(0.20, m.LatencyIncrease, 10);
        Assert.True(m.ForgettingInterval.Lower < 0.05 && 0.05 < m.ForgettingInterval.Upper);
        Assert.Equal(-m.Original.Upper, m.ForgettingInterval.Lower, 12);
    }
}
