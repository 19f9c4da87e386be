using Pipeline.ML.Benchmarks;
using Pipeline.ML.Data;
using Pipeline.ML.Models;
using Pipeline.ML.Sensitivity;
using Pipeline.ML.Strategies;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.ML.Tests;

public class MistStrategyTests
{
    private static AdaptationContext Context(ModelBundle baseModel, ImageDataset reference, int index) => new()
    {
        Seed = 11 + index,
        Budget = new AdaptationBudget { Epochs = 3, BatchSize = 16 },
        BaseModel = baseModel,
        Reference = reference,
        Device = "cpu",
        Index = index,
    };

    [Fact]
    public void Mist_changes_only_masked_backbone_elements_freezes_for_good_and_counts_overlap()
    {
        using var model = ModelBundle.Create("cnn-small", 5);
        using var data1 = Synthetic.Dataset(64, 1);
        using var shifted = DriftScenario.Parse("rotate-30").Apply(data1, 0);
        using var reference = Synthetic.Dataset(40, 2);
        // A large backbone rate so every step moves measurably; the structure is what is tested.
        var options = new MistOptions { SelectRate = 0.05, BackboneLr = 1e-2 };
        using var mist = new MistStrategy(options, "mist", "prototype", 10);
        var start = Synthetic.Snapshot(model);

        var (first, s1) = mist.Adapt(model, data1, Context(model, reference, 0));
        using (first)
        {
            var after1 = Synthetic.Snapshot(first);
            long changedScored = 0, budget = 0;
            foreach (var (name, p) in model.Model.NamedParameters())
            {
                if (!SensitivityScorer.IsScored(model.Model, name, p)) continue;
                budget += SensitivityScorer.Budget(p.numel(), 0.05);
                changedScored += start[name].Zip(after1[name]).Count(z => !Synthetic.BitEqual(z.First, z.Second));
                var counts = first.SelectionCounts[name].flatten().data<short>().ToArray();
                // Every changed element was selected (count 1); every unselected one is bit-identical.
                for (var i = 0; i < counts.Length; i++)
                {
                    if (counts[i] == 0) Assert.True(Synthetic.BitEqual(start[name][i], after1[name][i]), $"{name}[{i}] moved outside the mask");
                }
                Assert.Equal(SensitivityScorer.Budget(p.numel(), 0.05), counts.Count(c => c == 1));
            }
            Assert.InRange(changedScored, 1, budget);
            Assert.True(s1.SelectedFraction <= 0.05, $"selected {s1.SelectedFraction}");
            Assert.True(s1.UpdatedFractionPerStep > 0 && s1.UpdatedFractionPerStep <= 0.005, $"updated/step {s1.UpdatedFractionPerStep}");
            Assert.True(s1.SamplePasses >= 2L * 64 * 3);

            var frozen = first.FrozenElements.ToDictionary(kv => kv.Key, kv => kv.Value.flatten().data<bool>().ToArray());
            Assert.True(frozen.Values.Sum(f => f.Count(b => b)) >= frozen.Count, "at least one frozen element per weight tensor");

            // Second regime: the frozen elements never move again; counts reach 2 where both masks overlap.
            var (second, _) = mist.Adapt(first, shifted, Context(model, reference, 1));
            using (second)
            {
                var after2 = Synthetic.Snapshot(second);
                foreach (var (name, f) in frozen)
                {
                    for (var i = 0; i < f.Length; i++)
                    {
                        if (f[i]) Assert.True(Synthetic.BitEqual(after1[name][i], after2[name][i]), $"frozen {name}[{i}] moved");
                    }
                    var c2 = second.SelectionCounts[name].flatten().data<short>().ToArray();
                    Assert.True(c2.Max() <= 2);
                    for (var i = 0; i < f.Length; i++) if (f[i]) Assert.True(c2[i] <= 1, "a frozen element was selected again");
                }
                // The classifier is the folded prototype readout, never trained by gradient: predictions match it.
                using var emb = second.EmbedTensor(shifted.Images);
                using var scores = second.Readout!.Scores(emb);
                var fromReadout = scores.argmax(1).data<long>().ToArray();
                Assert.Equal(fromReadout, ParameterOps.PredictWithClassifier(second, shifted.Images));
            }
        }
        // The input model is never modified.
        foreach (var (name, values) in Synthetic.Snapshot(model)) Assert.Equal(start[name], values);
    }

    [Fact]
    public void Overlap_penalty_scales_updates_by_point_nine_to_the_k()
    {
        using var model = ModelBundle.Create("mlp", 5);
        using var data = Synthetic.Dataset(32, 1);
        using var reference = Synthetic.Dataset(20, 2);
        // Pretend every element was selected 300 times: 0.9^300 ≈ 2e-14 scales the gradient, so the backbone weights
        // do not move measurably. Weight decay is not scaled by the penalty (as in the code), so it is off here.
        foreach (var (name, p) in model.Model.NamedParameters())
        {
            if (SensitivityScorer.IsScored(model.Model, name, p)) model.SelectionCounts[name] = torch.full(p.shape, 300, dtype: ScalarType.Int16);
        }
        using var mist = new MistStrategy(new MistOptions { BackboneLr = 1e-2, WeightDecay = 0 }, "mist", "prototype", 10);
        var (tuned, _) = mist.Adapt(model, data, Context(model, reference, 0));
        using (tuned)
        {
            var a = Synthetic.Snapshot(model);
            var b = Synthetic.Snapshot(tuned);
            foreach (var (name, p) in model.Model.NamedParameters())
            {
                if (!SensitivityScorer.IsScored(model.Model, name, p)) continue;
                var maxMove = a[name].Zip(b[name]).Max(z => Math.Abs(z.First - z.Second));
                Assert.True(maxMove < 1e-9, $"{name} moved {maxMove} despite k = 300");
            }
        }
    }

    [Fact]
    public void Random_ablation_uses_the_same_budget()
    {
        using var model = ModelBundle.Create("mlp", 5);
        using var data = Synthetic.Dataset(32, 1);
        using var reference = Synthetic.Dataset(20, 2);
        using var mist = new MistStrategy(new MistOptions(), "mist", "ridge", 10);
        using var random = new MistStrategy(new MistOptions { RandomMask = true }, "random", "prototype", 10);
        var (a, sa) = mist.Adapt(model, data, Context(model, reference, 0));
        var (b, sb) = random.Adapt(model, data, Context(model, reference, 0));
        using (a)
        using (b)
        {
            Assert.Equal(sa.SelectedFraction, sb.SelectedFraction, 12);
            Assert.True(sa.SamplePasses > sb.SamplePasses, "only MIST pays the scoring pass");
            Assert.Equal(data.Count, mist.Predict(a, data.Images).Length);
        }
    }

    [Theory]
    [InlineData("mist")]
    [InlineData("random")]
    public void The_select_rate_sets_the_share_of_the_backbone_selected(string name)
    {
        using var model = ModelBundle.Create("mlp", 5);
        using var data = Synthetic.Dataset(32, 1);
        using var reference = Synthetic.Dataset(20, 2);
        using var small = ContinualStrategies.Create(name, 10, 0.01);
        using var large = ContinualStrategies.Create(name, 10, 0.2);
        var (a, sa) = small.Adapt(model, data, Context(model, reference, 0));
        var (b, sb) = large.Adapt(model, data, Context(model, reference, 0));
        using (a)
        using (b)
        {
            Assert.InRange(sa.SelectedFraction, 0.001, 0.02);
            Assert.InRange(sb.SelectedFraction, 0.15, 0.25);
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => ContinualStrategies.Create(name, 10, 0));
    }

    [Fact]
    public void Replay_plan_is_method_independent_and_holds_only_the_past()
    {
        using var reference = Synthetic.Dataset(30, 1);
        using var r1 = Synthetic.Dataset(20, 2);
        using var r2 = Synthetic.Dataset(20, 3);
        var plan = ContinualBenchmark.ReplayPlan(reference, [r1, r2], 16, 4);
        var again = ContinualBenchmark.ReplayPlan(reference, [r1, r2], 16, 4);
        try
        {
            Assert.Equal(2, plan.Count);
            Assert.Equal(16, plan[0]!.Count);
            Assert.Equal(16, plan[1]!.Count);
            Assert.True(Synthetic.Same(plan[1]!.Images, again[1]!.Images));
            Assert.All(ContinualBenchmark.ReplayPlan(reference, [r1, r2], 0, 4), p => Assert.Null(p));
        }
        finally
        {
            foreach (var p in plan.Concat(again)) p?.Dispose();
        }
    }

    [Fact]
    public void Every_strategy_adapts_twice_and_reports_its_cost()
    {
        using var baseModel = ModelBundle.Create("mlp", 5);
        using var original = Synthetic.Dataset(96, 9);
        using var reference = Synthetic.Dataset(40, 2);
        using var d1 = Synthetic.Dataset(48, 1);
        using var d2raw = Synthetic.Dataset(48, 3);
        using var d2 = DriftScenario.Parse("contrast-0.3").Apply(d2raw, 0);
        foreach (var name in ContinualStrategies.All)
        {
            using var strategy = ContinualStrategies.Create(name, 10);
            var current = baseModel.Clone();
            try
            {
                var datasets = new[] { d1, d2 };
                for (var t = 0; t < 2; t++)
                {
                    var context = new AdaptationContext
                    {
                        Seed = t, Budget = new AdaptationBudget { Epochs = 2, BatchSize = 16, RetrainEpochs = 1 }, BaseModel = baseModel,
                        Reference = reference, OriginalTrain = original, EarlierRegimes = datasets.Take(t).ToList(), Device = "cpu", Index = t,
                    };
                    var (next, stats) = strategy.Adapt(current, datasets[t], context);
                    current.Dispose();
                    current = next;
                    Assert.True(stats.SamplePasses > 0, $"{name}: no passes");
                    Assert.True(stats.TrainSeconds > 0, $"{name}: no time");
                    Assert.InRange(stats.SelectedFraction, 0, 1);
                    var predicted = strategy.Predict(current, d1.Images);
                    Assert.Equal(d1.Count, predicted.Length);
                    Assert.All(predicted, c => Assert.InRange(c, 0, 9));
                }
            }
            finally
            {
                current.Dispose();
            }
        }
    }
}
