using System.CommandLine;
using System.Text.Json;
using Pipeline.Cli.Benchmarks;
using Pipeline.Cli.Commands;

namespace Pipeline.Integration.Tests;

/// <summary><c>bench detect</c>: the issue's JSON shape, the target checks, and bad flags (the benchmark itself runs in minutes: docs/drift.md).</summary>
public class DetectBenchmarkTests
{
    private static ShiftResult Shift(string name, double drop, bool run, int? runDelay, double est = 0.8, double truth = 0.8, int? harmOnset = null) => new()
    {
        Scenario = name, Seed = 1, AccuracyDrop = drop, EstimatedDrop = drop, Detected = true, DelayRows = 1000, RunStarted = run,
        RunDelayRows = runDelay, EstimatedAccuracy = est, TrueAccuracy = truth, HarmOnsetRows = harmOnset, Decision = "x", Reason = "y",
    };

    [Fact]
    public void Targets_list_every_miss_and_the_json_has_the_issue_fields()
    {
        var clean = new CleanResult { Windows = 500, Runs = 0, TrueAccuracy = 0.83, EstimatedAccuracy = 0.82 };
        var shifts = new List<ShiftResult>
        {
            Shift("rotate-30", 0.40, true, 1000, est: 0.60, truth: 0.40), // estimate 20 points off
            Shift("rotate-5", 0.04, true, 2000),                          // run too late
            Shift("noise-0.05", 0.005, true, 1500),                       // harmless, yet a run
            Shift("contrast-0.7", 0.015, true, 1000),                     // grey zone: no target
            Shift("gradual", 0.40, true, 2500, harmOnset: 1500),          // 1000 rows after the harm onset: in time
        };
        var t = Targets.Evaluate(clean, shifts, 500);
        Assert.True(t.CleanNoRuns);
        Assert.False(t.Met);
        Assert.Equal(["rotate-5 (seed 1): drop 4.0 pts, run after 2000 rows"], t.HarmfulMisses);
        Assert.Equal(["noise-0.05 (seed 1): drop 0.5 pts, run after 1500 rows"], t.HarmlessMisses);
        Assert.Equal(["rotate-30 (seed 1): estimated 60.0 % vs true 40.0 %"], t.EstimateMisses);
        Assert.False(Targets.Evaluate(clean with { Runs = 1 }, [], 500).CleanNoRuns);
        Assert.False(Targets.Evaluate(clean with { Windows = 499 }, [], 500).CleanNoRuns);

        var json = JsonDocument.Parse(new DetectBenchmarkResult { Clean = clean, Shifts = shifts, Targets = t }.ToJson()).RootElement;
        foreach (var field in new[] { "windows", "false_alarms", "runs" })
        {
            Assert.True(json.GetProperty("clean").TryGetProperty(field, out _), field);
        }

        var first = json.GetProperty("shifts")[0];
        foreach (var field in new[] { "scenario", "accuracy_drop", "estimated_drop", "detected", "delay_rows", "run_started" })
        {
            Assert.True(first.TryGetProperty(field, out _), field);
        }
    }

    [Theory]
    [InlineData("--seeds", "0")]
    [InlineData("--min-drop", "1.5")]
    [InlineData("--clean-windows", "-3")]
    public async Task Bad_flags_exit_2_before_any_work(string flag, string value)
    {
        var root = new RootCommand { BenchDetectCommand.Create() };
        Assert.Equal(2, await root.Parse(["detect", flag, value]).InvokeAsync());
    }

    [Theory]
    [InlineData("--scenarios", "spin-9")]
    [InlineData("--witness", "resnet")]
    public async Task An_unknown_scenario_or_witness_is_one_error_line_and_exit_1(string flag, string value)
    {
        var root = new RootCommand { BenchDetectCommand.Create() };
        Assert.Equal(1, await root.Parse(["detect", flag, value]).InvokeAsync());
    }
}
