using System.Text.Json;
using Pipeline.ML.Benchmarks;
using Pipeline.ML.Data;

namespace Pipeline.ML.Tests;

public sealed class BenchmarkTests
{
    private static readonly BenchmarkBudget Tiny = new()
    {
        Name = "quick", BaseTrainSize = 1500, BaseEpochs = 1, AdaptSize = 200, Steps = 10, BatchSize = 32, EvalSize = 300,
    };

    [Fact]
    public void Json_has_exactly_the_contract_field_names()
    {
        var r = new AdaptBenchmarkResult
        {
            Scenario = "rotate-30",
            Seed = 1,
            Budget = "quick",
            Model = new BenchmarkModelInfo("cnn-small", 211050),
            Base = new BenchmarkBaseResult { AccOriginal = 0.9, AccShifted = 0.5 },
            Protocol = BenchmarkBudget.Quick,
            ShiftedSource = "scenario:rotate-30",
            Results = [new BenchmarkMethodResult { Method = "mist", Device = "cpu", Steps = 3, OptimizerStateBytes = 7 }],
        };
        using var doc = JsonDocument.Parse(r.ToJson());
        var root = doc.RootElement;
        foreach (var key in new[] { "dataset", "scenario", "seed", "budget", "model", "base", "results" })
            Assert.True(root.TryGetProperty(key, out _), key);
        Assert.Equal("fashion-mnist", root.GetProperty("dataset").GetString());
        Assert.Equal(211050, root.GetProperty("model").GetProperty("params_total").GetInt64());
        Assert.Equal("cnn-small", root.GetProperty("model").GetProperty("architecture").GetString());
        Assert.Equal(0.9, root.GetProperty("base").GetProperty("acc_original").GetDouble());
        Assert.Equal(0.5, root.GetProperty("base").GetProperty("acc_shifted").GetDouble());
        var m = root.GetProperty("results")[0];
        foreach (var key in new[] { "method", "acc_original", "acc_shifted", "forgetting", "gain_shifted", "selected_fraction",
                     "updated_fraction_per_step", "steps", "train_seconds", "optimizer_state_bytes", "device" })
            Assert.True(m.TryGetProperty(key, out _), key);
        Assert.Equal(JsonValueKind.Number, m.GetProperty("steps").ValueKind);
        Assert.Equal(7, m.GetProperty("optimizer_state_bytes").GetInt64());
        Assert.Equal("cpu", m.GetProperty("device").GetString());
        Assert.Equal(r.Results[0], AdaptBenchmarkResult.FromJson(r.ToJson()).Results[0] with { PerClassAccShifted = [] });
    }

    [FashionMnistFact]
    public void Tiny_end_to_end_run_on_fashion_mnist_is_consistent_and_cached()
    {
        var cache = Synthetic.TempDir();
        var options = new AdaptBenchmarkOptions
        {
            Scenario = "rotate-30", Seed = 2, Budget = "quick", CacheDirectory = cache, Device = "cpu", BudgetOverride = Tiny,
            Methods = ["full", "head", "random", "mist"],
        };
        var r = AdaptBenchmark.Run(options);
        Assert.False(r.Base.FromCache);
        Assert.Equal(["full", "head", "random", "mist"], r.Results.Select(x => x.Method).ToArray());
        Assert.InRange(r.Base.AccOriginal, 0.4, 1.0);
        Assert.True(r.Base.AccShifted < r.Base.AccOriginal, "rotation must hurt the base model");
        foreach (var x in r.Results)
        {
            Assert.Equal(r.Base.AccOriginal - x.AccOriginal, x.Forgetting, 12);
            Assert.Equal(x.AccShifted - r.Base.AccShifted, x.GainShifted, 12);
            // full and head: the tuner's 10 steps; mist and random: 2 epochs of 200 (⌈10·32/200⌉ rounded up to 2), the
            // first one scoring, so ⌈200/32⌉ = 7 training steps.
            Assert.Equal(x.Method is "full" or "head" ? 10 : 7, x.Steps);
            Assert.InRange(x.AccShifted, 0, 1);
        }
        var mist = r.Results.Single(x => x.Method == "mist");
        Assert.True(mist.SelectedFraction <= 0.05 && mist.UpdatedFractionPerStep <= 0.005);
        Assert.True(mist.UpdatedFractionPerStep > 0);
        Assert.Equal(1.0, r.Results.Single(x => x.Method == "full").SelectedFraction);

        var again = AdaptBenchmark.Run(options with { Methods = ["head"] });
        Assert.True(again.Base.FromCache, "the second run must reuse the cached base model");
        Assert.Equal(r.Base.AccOriginal, again.Base.AccOriginal);
        Assert.Equal(r.Results.Single(x => x.Method == "head").AccShifted, again.Results[0].AccShifted);
    }

    [FashionMnistFact]
    public void User_idx_files_replace_the_scenario()
    {
        var dir = Synthetic.TempDir();
        using var test = FashionMnist.LoadTest();
        using var some = test.Take(400);
        using var shifted = DriftScenario.Parse("invert").Apply(some, 0);
        var px = shifted.Images.reshape(-1).data<float>().ToArray().Select(v => (byte)Math.Round(v * 255)).ToArray();
        var labels = shifted.LabelArray().Select(l => (byte)l).ToArray();
        var ip = Path.Combine(dir, "images-idx3-ubyte.gz");
        var lp = Path.Combine(dir, "labels-idx1-ubyte");
        IdxReader.WriteBytes(ip, [400, 28, 28], px, gzip: true);
        IdxReader.WriteBytes(lp, [400], labels, gzip: false);
        var r = AdaptBenchmark.Run(new AdaptBenchmarkOptions
        {
            Scenario = "my-camera", Seed = 2, CacheDirectory = dir, Device = "cpu", BudgetOverride = Tiny, Methods = ["head"],
            ShiftedImages = ip, ShiftedLabels = lp,
        });
        Assert.Equal("my-camera", r.Scenario);
        Assert.StartsWith("idx:", r.ShiftedSource, StringComparison.Ordinal);
        Assert.True(r.Base.AccShifted < 0.5, $"inverted images should fool the base model ({r.Base.AccShifted})");
        Assert.Throws<ArgumentException>(() => AdaptBenchmark.Run(new AdaptBenchmarkOptions { Scenario = "x", ShiftedImages = ip }));
    }
}
