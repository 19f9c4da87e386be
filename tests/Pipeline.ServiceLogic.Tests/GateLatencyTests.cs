using Pipeline.Contracts;
using Pipeline.EvaluationGate;
using Pipeline.ML.Evaluation;
using Pipeline.ML.Models;
using Pipeline.ML.Readout;
using TorchSharp;

namespace Pipeline.ServiceLogic.Tests;

/// <summary>Latency is judged only when the compute changes, and then on a paired interval.</summary>
public class GateLatencyTests
{
    private static readonly GateOptions Auto = new() { Mode = GateMode.Auto, MinGain = 0.02, MaxForgetting = 0.03, MaxLatencyIncrease = 0.5 };

    private static GateMeasurements M(LatencyJudgement latency)
    {
        var shifted = PairedComparison.FromCounts(2000, 400, 0, 1600);
        var original = PairedComparison.FromCounts(3600, 0, 0, 400);
        return new GateMeasurements(shifted, original, [], latency);
    }

    [Fact]
    public void Same_compute_is_not_judged_whatever_the_timer_said()
    {
        var (decision, reasons) = GatePolicy.Decide(M(LatencyJudgement.Unchanged(10)), Auto);

        Assert.Equal(GateDecision.Approve, decision);
        Assert.Contains(reasons, r => r.Contains("latency not judged: same compute", StringComparison.Ordinal));
        Assert.Equal(0, M(LatencyJudgement.Unchanged(10)).LatencyIncrease);
    }

    [Fact]
    public void A_changed_compute_passes_fails_or_is_undecided_on_its_interval()
    {
        static LatencyJudgement J(double lower, double upper) =>
            new(["serving readout none → ridge"], new LatencyComparison(10, 10 * (1 + (lower + upper) / 2), (lower + upper) / 2, lower, upper, 30, 0.95), 10);

        Assert.Equal(GateDecision.Approve, GatePolicy.Decide(M(J(0.05, 0.20)), Auto).Decision);
        var (failed, reasons) = GatePolicy.Decide(M(J(0.80, 1.20)), Auto);
        Assert.Equal(GateDecision.Reject, failed);
        Assert.Contains(reasons, r => r.StartsWith("failed: latency", StringComparison.Ordinal) && r.Contains("30 pairs", StringComparison.Ordinal));
        var (undecided, why) = GatePolicy.Decide(M(J(0.30, 0.70)), Auto);
        Assert.Equal(GateDecision.Reject, undecided); // auto mode rejects what the data cannot prove
        Assert.Contains(why, r => r.StartsWith("undecided", StringComparison.Ordinal) && r.Contains("latency", StringComparison.Ordinal));
    }

    [Fact]
    public void Paired_ratios_give_an_interval_that_holds_the_true_increase_under_load()
    {
        // The candidate costs 1.2 × production; load multiplies both members of a pair alike (up to 3×).
        var rng = new Random(7);
        var before = new List<double>();
        var after = new List<double>();
        for (var i = 0; i < 30; i++)
        {
            var load = 1 + 2 * rng.NextDouble();
            before.Add(5 * load * (1 + 0.05 * (rng.NextDouble() - 0.5)));
            after.Add(6 * load * (1 + 0.05 * (rng.NextDouble() - 0.5)));
        }
        var c = LatencyComparison.FromPairs(before, after);
        Assert.InRange(0.2, c.Lower, c.Upper);
        Assert.True(c.Upper - c.Lower < 0.05, $"interval [{c.Lower}, {c.Upper}] too wide");
    }

    [Fact]
    public void The_compute_signature_sees_an_added_readout_but_not_new_weights()
    {
        using var production = ModelBundle.Create("mlp", 3);
        using var retrained = production.Clone();
        using (torch.no_grad())
        {
            foreach (var (_, p) in retrained.Model.NamedParameters()) p.add_(0.01);
        }
        Assert.Empty(ComputeSignature.Differences(production, retrained));

        using var withReadout = production.Clone();
        var emb = withReadout.EmbedTensor(torch.rand(8, 1, 28, 28));
        var readout = new RidgeReadout(10, (int)emb.flatten(1).shape[1], 64, 0);
        readout.Update(emb.flatten(1), torch.arange(8).remainder(10));
        withReadout.AttachReadout(readout, serves: true);
        var changes = ComputeSignature.Differences(production, withReadout);
        Assert.Contains(changes, d => d.StartsWith("serving readout none → ridge", StringComparison.Ordinal));

        var measured = LatencyComparison.Measure(production, withReadout, batchSize: 16, pairs: 6, warmup: 1);
        Assert.Equal(6, measured.Pairs);
        Assert.True(measured.MsBefore > 0 && measured.MsAfter > 0);
        Assert.True(measured.Lower <= measured.Increase && measured.Increase <= measured.Upper);
    }
}
