using Pipeline.Contracts;
using Pipeline.EvaluationGate;

namespace Pipeline.Services.Tests;

public class GatePolicyTests
{
    private static readonly GateOptions Auto = new() { Mode = GateMode.Auto, MinGain = 0.02, MaxForgetting = 0.03, MaxLatencyIncrease = 0.5, GreyZone = 0.02 };

    private static GateMeasurements M(double gain, double forgetting, double latencyAfter = 10) =>
        new(ShiftedBefore: 0.5, ShiftedAfter: 0.5 + gain, OriginalBefore: 0.9, OriginalAfter: 0.9 - forgetting, LatencyMsBefore: 10, LatencyMsAfter: latencyAfter);

    [Fact]
    public void A_candidate_passing_every_check_is_approved_in_auto_mode()
    {
        var (decision, reasons) = GatePolicy.Decide(M(gain: 0.10, forgetting: 0.01), Auto);
        Assert.Equal(GateDecision.Approve, decision);
        Assert.All(reasons, r => Assert.StartsWith("passed:", r, StringComparison.Ordinal));
    }

    [Fact]
    public void Manual_mode_asks_a_person_even_for_a_clearly_better_candidate()
    {
        var (decision, reasons) = GatePolicy.Decide(M(gain: 0.10, forgetting: 0.0), new GateOptions { Mode = GateMode.Manual });
        Assert.Equal(GateDecision.AskOperator, decision);
        Assert.Contains("manual mode", reasons[0], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0.01, 0.00)] // gain just below the minimum
    [InlineData(0.10, 0.04)] // forgetting just above the maximum
    public void A_near_miss_inside_the_grey_zone_asks_a_person(double gain, double forgetting)
    {
        var (decision, reasons) = GatePolicy.Decide(M(gain, forgetting), Auto);
        Assert.Equal(GateDecision.AskOperator, decision);
        Assert.All(reasons, r => Assert.StartsWith("grey zone:", r, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(-0.05, 0.00, 10)] // worse on the new data
    [InlineData(0.10, 0.08, 10)] // forgets far too much
    [InlineData(0.10, 0.00, 20)] // twice as slow
    public void A_clear_miss_is_rejected_with_the_failed_check_named(double gain, double forgetting, double latency)
    {
        var (decision, reasons) = GatePolicy.Decide(M(gain, forgetting, latency), Auto);
        Assert.Equal(GateDecision.Reject, decision);
        Assert.Contains(reasons, r => r.StartsWith("failed:", StringComparison.Ordinal));
    }

    [Fact]
    public void A_relative_latency_jump_within_the_absolute_tolerance_does_not_fail()
    {
        // 0.4 → 0.9 ms is +125 %, but half a millisecond is timer noise.
        var m = new GateMeasurements(0.5, 0.6, 0.9, 0.9, 0.4, 0.9);
        Assert.Equal(GateDecision.Approve, GatePolicy.Decide(m, Auto).Decision);
        Assert.Equal(GateDecision.Reject, GatePolicy.Decide(m, new GateOptions { LatencyToleranceMs = 0.1 }).Decision);
    }

    [Fact]
    public void Measurements_derive_gain_forgetting_and_relative_latency()
    {
        var m = new GateMeasurements(0.40, 0.70, 0.90, 0.85, 10, 12);
        Assert.Equal(0.30, m.Gain, 10);
        Assert.Equal(0.05, m.Forgetting, 10);
        Assert.Equal(0.20, m.LatencyIncrease, 10);
    }
}
