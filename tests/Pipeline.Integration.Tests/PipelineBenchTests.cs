using System.CommandLine;
using System.Text.Json;
using Pipeline.Cli.Benchmarks;
using Pipeline.Cli.Commands;
using Pipeline.Hosting;

namespace Pipeline.Integration.Tests;

/// <summary>
/// <c>bench pipeline</c>'s hop math and flags. The benchmark itself starts seven service processes and runs for
/// minutes (README, "bench pipeline"); the stamps it reads are tested on a real bus in <see cref="HopStampTests"/>.
/// </summary>
public class PipelineBenchTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 2, 20, 0, 0, TimeSpan.Zero);

    private static DateTimeOffset Ms(double ms) => T0.AddMilliseconds(ms);

    /// <summary>A run whose hop k waits k ms, handles 10k ms (of which compute 5k ms on the workers) and dispatches 2 ms.</summary>
    private static List<HopRecord> Run(Guid runId, double scale = 1)
    {
        var hops = new List<HopRecord>();
        var sent = Ms(0);
        for (var k = 1; k <= PipelineHops.Chain.Count; k++)
        {
            var (input, output) = PipelineHops.Chain[k - 1];
            var start = sent.AddMilliseconds(k * scale);
            var ready = start.AddMilliseconds(10 * k * scale);
            var next = ready.AddMilliseconds(2 * scale);
            hops.Add(new HopRecord(runId, input, output, k % 2 == 0 ? "worker" : "adaptation-runs", sent, start, ready, next, k % 2 == 0 ? 5 * k * scale : 0));
            sent = next;
        }

        hops.Add(new HopRecord(runId, "ModelDeployed", "AdaptationRunFinished", "adaptation-runs", sent, sent.AddMilliseconds(1), sent.AddMilliseconds(3), sent.AddMilliseconds(4), 0));
        return hops;
    }

    [Fact]
    public void Wait_handler_and_dispatch_of_the_chain_add_up_to_the_total_and_compute_is_taken_out()
    {
        var id = Guid.NewGuid();
        var run = PipelineHops.Timeline(id, Run(id).AsEnumerable().Reverse());
        Assert.Equal(PipelineHops.Chain.Select(c => $"{c.Input} -> {c.Output}"), run.Hops.Select(h => h.Name));
        Assert.Equal("ModelDeployed -> AdaptationRunFinished", run.Finish!.Name);
        // Σk = 36 waits, Σ10k = 360 handlers, 8 × 2 dispatches: 412 ms; compute 5·(2+4+6+8) = 100 ms.
        Assert.Equal(0.412, run.TotalSeconds, 9);
        Assert.Equal(run.TotalSeconds * 1000, run.Hops.Sum(h => h.WaitMs + h.HandlerMs + h.DispatchMs), 6);
        Assert.Equal(0.100, run.ComputeSeconds, 9);
        Assert.Equal(0.312, run.OverheadSeconds, 9);
        Assert.Equal(3, run.Hops[2].WaitMs, 9);
        Assert.Equal(30, run.Hops[2].HandlerMs, 9);
        Assert.Equal(2, run.Hops[2].DispatchMs, 9);
    }

    [Fact]
    public void A_missing_hop_names_what_was_seen_and_other_runs_and_resent_copies_do_not_count()
    {
        var id = Guid.NewGuid();
        var other = Guid.NewGuid();
        var hops = Run(id);
        var resent = hops[2] with { ConsumeStart = hops[2].ConsumeStart.AddSeconds(60), Ready = hops[2].Ready.AddSeconds(60), Sent = hops[2].Sent.AddSeconds(60) };
        var timeline = PipelineHops.Timeline(id, [.. hops, resent, .. Run(other, scale: 100)]);
        Assert.Equal(hops[2], timeline.Hops[2]);
        Assert.Equal(0.412, timeline.TotalSeconds, 9);

        var broken = hops.Where(h => h.Output != "CandidateTrained").ToList();
        var e = Assert.Throws<InvalidDataException>(() => PipelineHops.Timeline(id, broken));
        Assert.Contains("no CandidateTrained caused by TrainCandidate", e.Message, StringComparison.Ordinal);
        Assert.Contains("SensitivityScored -> TrainCandidate", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Percentiles_interpolate_between_ranks_like_numpy()
    {
        double[] v = [5, 1, 4, 2, 3];
        Assert.Equal(3, PipelineHops.Percentile(v, 50), 9);
        Assert.Equal(4.8, PipelineHops.Percentile(v, 95), 9);
        Assert.Equal(7, PipelineHops.Percentile([7], 95), 9);
        Assert.Equal(1.9, PipelineHops.Percentile([1, 2], 90), 9);
        Assert.Throws<ArgumentException>(() => PipelineHops.Percentile([], 50));
    }

    [Fact]
    public void The_json_has_the_issue_fields_per_hop_and_the_overhead_over_runs()
    {
        // Runs 1..20 ms scaled: overhead p95 is over the runs, not over the hops.
        var runs = Enumerable.Range(1, 20).Select(i =>
        {
            var id = Guid.NewGuid();
            return PipelineHops.Timeline(id, Run(id, scale: i));
        }).ToList();
        var result = PipelineHops.Summarise(runs, new PipelineBenchSettings { LabelledRowsPerRun = 100 }, targetSeconds: 0.5);
        var json = JsonDocument.Parse(result.ToJson()).RootElement;
        Assert.Equal(20, json.GetProperty("runs").GetInt32());
        var overheads = runs.Select(r => r.OverheadSeconds).ToList();
        Assert.Equal(Math.Round(PipelineHops.Percentile(overheads, 95), 3), json.GetProperty("overhead_p95_s").GetDouble(), 9);
        Assert.Equal(Math.Round(PipelineHops.Percentile(overheads, 50), 3), json.GetProperty("overhead_p50_s").GetDouble(), 9);
        Assert.Equal(result.OverheadP95S < 0.5, json.GetProperty("target_met").GetBoolean());
        Assert.False(result.TargetMet); // 0.312 s × 19.05 at p95

        var hops = json.GetProperty("hops");
        Assert.Equal(PipelineHops.Chain.Count + 1, hops.GetArrayLength());
        var third = hops[2];
        Assert.Equal("SensitivityScored -> TrainCandidate", third.GetProperty("hop").GetString());
        foreach (var field in new[] { "wait_p50_ms", "wait_p95_ms", "handler_p50_ms", "handler_p95_ms" })
        {
            Assert.True(third.TryGetProperty(field, out _), field);
        }

        // hop 3 waits 3·i ms in run i: p50 over i = 1..20 is 10.5 → 31.5 ms.
        Assert.Equal(31.5, third.GetProperty("wait_p50_ms").GetDouble(), 9);
        Assert.False(hops[PipelineHops.Chain.Count].GetProperty("in_total").GetBoolean());

        // Each run's own hops, in chain order: run 3's third hop waited 3·3 ms.
        var third3 = json.GetProperty("per_run")[2].GetProperty("hops")[2];
        Assert.Equal("SensitivityScored -> TrainCandidate", third3.GetProperty("hop").GetString());
        Assert.Equal(9, third3.GetProperty("wait_ms").GetDouble(), 9);
        Assert.Equal(PipelineHops.Chain.Count, json.GetProperty("per_run")[0].GetProperty("hops").GetArrayLength());
    }

    [Theory]
    [InlineData("--runs", "0")]
    [InlineData("--rows", "10")]
    [InlineData("--stall-seconds", "1")]
    [InlineData("--broker", "http://nowhere")]
    public async Task Bad_flags_exit_non_zero_before_any_work(string flag, string value)
    {
        var root = new RootCommand { BenchPipelineCommand.Create() };
        Assert.NotEqual(0, await root.Parse(["pipeline", flag, value]).InvokeAsync());
    }
}
