using System.CommandLine;
using System.Text.Json;
using Pipeline.Cli.Benchmarks;
using Pipeline.Cli.Commands;

namespace Pipeline.Integration.Tests;

/// <summary><c>bench adapt</c>'s tabular regime: scenario names, the model and data made by Debian's PyTorch, the cache, bad flags.</summary>
public class TabularRegimeTests
{
    [Fact]
    public void Scenario_names_map_to_shifts_and_a_wrong_one_lists_the_valid_ones()
    {
        Assert.Equal("mean", TabularRegime.ShiftOf("tabular-mean"));
        Assert.Equal("mix", TabularRegime.ShiftOf("Tabular-Mix"));
        Assert.Null(TabularRegime.ShiftOf("rotate-30"));
        var e = Assert.Throws<ArgumentException>(() => TabularRegime.ShiftOf("tabular-rotate"));
        Assert.Contains("tabular-mean, tabular-scale, tabular-mix", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_script_makes_a_model_the_mean_shift_breaks_once_per_seed()
    {
        var cache = Path.Combine(Path.GetTempPath(), "tabular-regime-test-" + Guid.NewGuid().ToString("N"));
        try
        {
            var dir = TabularRegime.Ensure(3, cache);
            foreach (var f in new[] { "model.pt", "model.json", "original.csv", "shifted-mean.csv", "shifted-scale.csv", "shifted-mix.csv" })
                Assert.True(File.Exists(Path.Combine(dir, f)), f);
            Assert.Equal(3001, File.ReadLines(Path.Combine(dir, "original.csv")).Count());
            using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "report.json")));
            var original = report.RootElement.GetProperty("original").GetDouble();
            Assert.InRange(original, 0.9, 1.0);
            Assert.True(report.RootElement.GetProperty("shifted-mean").GetDouble() < original - 0.3, "the +3/−2.5 sd shift must break the model");
            var stamp = File.GetLastWriteTimeUtc(Path.Combine(dir, "done"));
            Assert.Equal(dir, TabularRegime.Ensure(3, cache)); // cached: not made again
            Assert.Equal(stamp, File.GetLastWriteTimeUtc(Path.Combine(dir, "done")));
        }
        finally
        {
            if (Directory.Exists(cache)) Directory.Delete(cache, true);
        }
    }

    [Theory]
    [InlineData("tabular-mean,rotate-30", "tabular shifts only")]
    [InlineData("tabular-mean --regime a=x.idx:y.idx", "leave out --regime")]
    [InlineData("tabular-mean --replay-fraction 0.3 --replay 100", "not with --replay")]
    [InlineData("tabular-mean --methods head,retrain", "leave out retrain")]
    public async Task Continual_bad_flags_get_one_line(string args, string expected)
    {
        var (code, error, _) = await Continual(["--sequence", .. args.Split(' ')]);
        Assert.NotEqual(0, code);
        Assert.Contains(expected, error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bench_continual_runs_the_tabular_sequence_with_the_services_replay()
    {
        var output = Path.Combine(Path.GetTempPath(), "continual-tabular-" + Guid.NewGuid().ToString("N") + ".json");
        try
        {
            var (code, error, _) = await Continual(["--sequence", "tabular-mean,tabular-mix", "--methods", "head,ridge", "--labels", "70",
                "--replay-fraction", "0.3", "--device", "cpu", "--out", output]);
            Assert.True(code == 0, error);
            var r = Pipeline.ML.Benchmarks.ContinualBenchmarkResult.FromJson(File.ReadAllText(output));
            Assert.Equal(("csv", 0.3), (r.Dataset, r.ReplayFraction));
            Assert.Equal(["original", "tabular-mean", "tabular-mix"], r.Sequence);
            Assert.Equal([30, 30], r.ReplayRows ?? []);
            Assert.True(r.Base.Acc[1] < r.Base.Acc[0] - 0.3, "the mean shift breaks the regime's model");
            Assert.Equal((20000L + 70) * 25 + (20000L + 140) * 25, r.RetrainReferencePasses);
            Assert.Equal(["head", "ridge"], r.Results.Select(m => m.Method));
        }
        finally
        {
            File.Delete(output);
        }
    }

    private static Task<(int Code, string Error, string Out)> Continual(string[] args) => Invoke(BenchContinualCommand.Create(), ["continual", .. args]);

    private static async Task<(int Code, string Error, string Out)> Invoke(Command command, string[] args)
    {
        var root = new RootCommand { command };
        var (error, output) = (new StringWriter(), new StringWriter());
        var (savedError, savedOut) = (Console.Error, Console.Out);
        Console.SetError(error);
        Console.SetOut(output);
        try
        {
            return (await root.Parse(args).InvokeAsync(), error.ToString(), output.ToString());
        }
        finally
        {
            Console.SetError(savedError);
            Console.SetOut(savedOut);
        }
    }

    [Theory]
    [InlineData("tabular-rotate", "unknown tabular scenario")]
    [InlineData("tabular-mean --model m.pt --manifest m.json", "brings its own model and data")]
    [InlineData("tabular-mean --replay 1", "must be from 0 to below 1")]
    public async Task Bad_flags_get_one_line(string args, string expected)
    {
        var (code, error, _) = await Invoke(BenchAdaptCommand.Create(), ["adapt", "--scenario", .. args.Split(' ')]);
        Assert.Equal(2, code);
        Assert.Contains(expected, error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
    }
}
