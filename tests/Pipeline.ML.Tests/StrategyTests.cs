using Pipeline.ML.Benchmarks;
using Pipeline.ML.Data;
using Pipeline.ML.Models;
using Pipeline.ML.Readout;
using Pipeline.ML.Sensitivity;
using Pipeline.ML.Strategies;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.ML.Tests;

public class StrategyTests
{
    private static readonly AdaptationBudget Tiny = new() { Epochs = 3, BatchSize = 16, RetrainEpochs = 1 };

    private static AdaptationContext Context(ModelBundle baseModel, ImageDataset reference, ImageDataset? original = null, int index = 0) => new()
    {
        Seed = 7 + index,
        Budget = Tiny,
        BaseModel = baseModel,
        Reference = reference,
        OriginalTrain = original,
        Device = "cpu",
        Index = index,
    };

    [Fact]
    public void Every_strategy_is_selectable_by_name_and_unknown_names_fail()
    {
        foreach (var name in ContinualStrategies.All)
        {
            using var s = ContinualStrategies.Create(name);
            Assert.Equal(name, s.Name);
        }
        var e = Assert.Throws<ArgumentException>(() => ContinualStrategies.Create("sgd-magic"));
        Assert.Contains("known:", e.Message);
    }

    [Fact]
    public void Tuner_runs_the_other_strategies_by_name_for_the_tuning_service()
    {
        using var model = ModelBundle.Create("mlp", 3);
        using var data = Synthetic.Dataset(48, 1);
        foreach (var name in new[] { "ewc", "wise" })
        {
            using var r = Pipeline.ML.Tuning.Tuner.Tune(name, model, null, data,
                new Pipeline.ML.Tuning.TuningOptions { Steps = 3, BatchSize = 16, Device = "cpu", Seed = 1 });
            Assert.Equal(name, r.Stats.Strategy);
            Assert.True(r.Stats.Steps > 0);
            Assert.Equal(1, r.Model.Info.Adaptations);
        }
    }

    [Fact]
    public void Ties_trims_elects_signs_and_averages_disjointly()
    {
        // Two task vectors over 5 elements; keep the top 60% (3 of 5) of each by magnitude.
        var t1 = new Dictionary<string, Tensor> { ["w"] = torch.tensor(new float[] { 1.0f, -2.0f, 0.1f, 3.0f, 0.2f }) };
        var t2 = new Dictionary<string, Tensor> { ["w"] = torch.tensor(new float[] { -3.0f, -1.0f, 0.05f, 1.0f, 2.0f }) };
        var merged = ParameterOps.Ties([t1, t2], 0.6, 1.0)["w"].data<float>().ToArray();
        // trimmed t1 = [1, -2, 0, 3, 0]; t2's threshold is its 3rd largest magnitude (1), so both 1-valued
        // entries stay: [-3, -1, 0, 1, 2].
        // element 0: 1 + (−3) → sign −, only −3 agrees → −3.  element 1: −2, −1 → −1.5.  element 2: nothing kept → 0.
        // element 3: 3 and 1 agree (+) → 2.  element 4: only 2 → 2.
        Assert.Equal(new[] { -3f, -1.5f, 0f, 2f, 2f }, merged);
        var scaled = ParameterOps.Ties([t1, t2], 0.6, 0.5)["w"].data<float>().ToArray();
        Assert.Equal(new[] { -1.5f, -0.75f, 0f, 1f, 1f }, scaled);
    }

    [Fact]
    public void Wise_interpolates_every_parameter()
    {
        using var a = ModelBundle.Create("mlp", 1);
        using var b = ModelBundle.Create("mlp", 2);
        using var target = ModelBundle.Create("mlp", 3);
        ParameterOps.Interpolate(target, a, b, 0.25);
        var pa = Synthetic.Snapshot(a);
        var pb = Synthetic.Snapshot(b);
        foreach (var (name, values) in Synthetic.Snapshot(target))
        {
            for (var i = 0; i < values.Length; i += 997) Assert.Equal(0.75f * pa[name][i] + 0.25f * pb[name][i], values[i], 5);
        }
    }

    [Fact]
    public void Lora_rank_follows_the_shift_within_bounds()
    {
        Assert.Equal(1, LoraStrategy.RankFor(0, 1, 16, 128, 1568));
        Assert.Equal(16, LoraStrategy.RankFor(1, 1, 16, 128, 1568));
        Assert.Equal(9, LoraStrategy.RankFor(0.5, 1, 16, 128, 1568));
        Assert.Equal(9, LoraStrategy.RankFor(1, 1, 16, 16, 9));   // never above the matrix's smaller side
        Assert.Equal(1, LoraStrategy.RankFor(double.NaN, 1, 16, 10, 128));
        Assert.Equal(16, LoraStrategy.RankFor(7, 1, 16, 128, 128));
    }

    [Fact]
    public void Lora_changes_weights_by_a_merged_low_rank_update_and_leaves_biases_alone()
    {
        using var model = ModelBundle.Create("mlp", 3);
        using var data = Synthetic.Dataset(64, 1);
        using var reference = Synthetic.Dataset(32, 2);
        using var lora = new LoraStrategy(new LoraOptions { MinRank = 2, MaxRank = 2 });
        var before = Synthetic.Snapshot(model);
        var (tuned, stats) = lora.Adapt(model, data, Context(model, reference));
        using (tuned)
        {
            Assert.Contains("ranks 2,2,2", stats.Detail);
            Assert.True(stats.SamplePasses > 0 && stats.Steps == Tiny.StepsFor(64));
            var after = tuned.Model.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter.detach().cpu());
            foreach (var (name, p) in model.Model.NamedParameters())
            {
                if (model.Model.GroupOf(name) == ParameterGroup.Projection || p.dim() < 2)
                {
                    Assert.Equal(before[name], after[name].data<float>().ToArray());
                    continue;
                }
                using var delta = (after[name] - p.detach().cpu()).reshape(p.shape[0], -1);
                Assert.True(delta.abs().max().ToDouble() > 0, $"{name} did not change");
                var sv = torch.linalg.svdvals(delta.to(ScalarType.Float64)).data<double>().ToArray();
                var rank = sv.Count(v => v > sv[0] * 1e-5);
                Assert.True(rank <= 2, $"{name}: rank {rank}");
            }
        }
    }

    [Fact]
    public void Prototype_readout_accumulates_domains_and_folds_to_the_same_classes()
    {
        using var r = new PrototypeReadout(3, 2);
        // Domain A: class c near axis angle c·60°; domain B: same classes, scaled and slightly rotated.
        using var ea = torch.tensor(new float[] { 1, 0, 0.5f, 0.87f, -0.5f, 0.87f }, new long[] { 3, 2 });
        using var eb = torch.tensor(new float[] { 2, 0.2f, 0.8f, 1.8f, -1.2f, 1.6f }, new long[] { 3, 2 });
        using var y = torch.tensor(new long[] { 0, 1, 2 });
        r.Update(ea, y);
        r.Update(eb, y);
        Assert.Equal(new double[] { 2, 2, 2 }, r.Counts);
        using var both = torch.cat([ea, eb], 0);
        using var scores = r.Scores(both);
        Assert.Equal(new long[] { 0, 1, 2, 0, 1, 2 }, scores.argmax(1).data<long>().ToArray());
        var (w, b) = r.Fold();
        using (w)
        using (b)
        {
            using var logits = both.matmul(w.t()) + b;
            Assert.Equal(scores.argmax(1).data<long>().ToArray(), logits.argmax(1).data<long>().ToArray());
        }
    }

    [Fact]
    public void Ridge_readout_keeps_earlier_domains_through_its_statistics()
    {
        using var r = new RidgeReadout(2, 2, 64, 5);
        var rng = new Random(1);
        Tensor Cloud(double cx, double cy, int n) =>
            torch.tensor(Enumerable.Range(0, n).SelectMany(_ => new[] { (float)(cx + rng.NextDouble() * 0.2), (float)(cy + rng.NextDouble() * 0.2) }).ToArray(), new long[] { n, 2 });
        using var a0 = Cloud(1, 0, 20);
        using var a1 = Cloud(0, 1, 20);
        using var b0 = Cloud(-1, 0, 20);
        using var b1 = Cloud(0, -1, 20);
        using var ya = torch.cat([torch.zeros(20, ScalarType.Int64), torch.ones(20, ScalarType.Int64)], 0);
        r.Update(torch.cat([a0, a1], 0), ya);
        r.Update(torch.cat([b0, b1], 0), ya);
        using var test = torch.cat([a0, a1, b0, b1], 0);
        using var yt = torch.cat([ya, ya], 0);
        using var pred = r.Scores(test).argmax(1);
        var acc = pred.eq(yt).to(ScalarType.Float32).mean().ToDouble();
        Assert.True(acc > 0.95, $"accuracy {acc} on both domains");
        Assert.True(r.Lambda is >= 1e-8 and <= 1e8);
    }

    [Fact]
    public void NtXent_matches_the_published_formula_computed_naively()
    {
        using var gen = new Generator(3);
        using var raw = torch.randn(new long[] { 6, 4 }, generator: gen);
        using var z = torch.nn.functional.normalize(raw, p: 2, dim: 1);
        using var labels = torch.tensor(new long[] { 0, 1, 0 });
        using var loss = MistObjective.NtXent(z, labels, 0.5);
        var zz = z.data<float>().ToArray();
        var y = new long[] { 0, 1, 0, 0, 1, 0 };
        double Sim(int i, int j) => Enumerable.Range(0, 4).Sum(k => (double)zz[i * 4 + k] * zz[j * 4 + k]) / 0.5;
        double L(int i, int j) => -(Sim(i, j) - Math.Log(Enumerable.Range(0, 6).Where(k => k != i).Sum(k => Math.Exp(Sim(i, k)))));
        var pair = Enumerable.Range(0, 6).Average(i => L(i, (i + 3) % 6));
        double sup = 0;
        for (var i = 0; i < 6; i++)
        {
            var same = Enumerable.Range(0, 6).Where(j => y[j] == y[i]).ToList();
            sup += same.Where(j => j != i).Sum(j => L(i, j)) / same.Count;
        }
        Assert.Equal(pair + sup / 3, loss.ToDouble(), 4);
    }

    [Fact]
    public void Strong_view_is_seeded_and_changes_the_images()
    {
        using var data = Synthetic.Dataset(8, 1);
        using var g1 = new Generator(4);
        using var g2 = new Generator(4);
        using var v1 = MistObjective.StrongView(data.Images, g1);
        using var v2 = MistObjective.StrongView(data.Images, g2);
        Assert.True(Synthetic.Same(v1, v2));
        Assert.False(Synthetic.Same(v1, data.Images));
        Assert.Equal(data.Images.shape, v1.shape);
    }
}
