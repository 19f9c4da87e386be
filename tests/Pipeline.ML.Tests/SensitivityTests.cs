using Pipeline.ML.Models;
using Pipeline.ML.Sensitivity;
using TorchSharp;

namespace Pipeline.ML.Tests;

public sealed class SensitivityTests
{
    [Fact]
    public void Supcon_loss_is_low_for_aligned_views_and_high_for_mixed_labels()
    {
        // Two classes, embeddings equal to class directions: loss is near its minimum.
        var z = torch.tensor(new float[] { 1, 0, 1, 0, 0, 1, 0, 1 }, new long[] { 4, 2 });
        var y = torch.tensor(new long[] { 0, 0, 1, 1 });
        var good = MiObjective.SupConLoss(z, y, 0.07).ToDouble();
        var bad = MiObjective.SupConLoss(z, torch.tensor(new long[] { 0, 1, 0, 1 }), 0.07).ToDouble();
        Assert.True(good < 1e-3, $"aligned loss {good}");
        Assert.True(bad > 10, $"misaligned loss {bad}");
    }

    [Fact]
    public void Mi_mask_respects_the_budget_per_tensor_and_overall()
    {
        using var model = ModelBundle.Create("cnn-small", 1).To(torch.CPU);
        using var data = Synthetic.Dataset(96, 2);
        var before = Synthetic.Snapshot(model);
        using var mask = SensitivityScorer.Score(model, data, new ScoringOptions { SelectRate = 0.02, BatchSize = 48, Device = "cpu" });
        Assert.Equal("mi", mask.Info.Strategy);
        Assert.True(mask.SelectedFraction <= 0.05, $"selected {mask.SelectedFraction}");
        Assert.True(mask.SelectedFraction > 0.02);
        foreach (var c in mask.Coverage)
        {
            var p = model.Model.NamedParameters().Single(x => x.Name == c.Name).Parameter;
            if (SensitivityScorer.IsScored(model.Model, c.Name, p))
            {
                Assert.Equal("top-k", c.Policy);
                Assert.Equal((long)Math.Floor(c.Total * 0.02), c.Selected);
            }
            else
            {
                Assert.Equal("all", c.Policy);
                Assert.Equal(c.Total, c.Selected);
            }
        }
        Assert.Equal(model.Info.ParamsTotal, mask.Info.ParamsTotal);
        // Scoring must not change the weights.
        var after = Synthetic.Snapshot(model);
        Assert.All(before, kv => Assert.Equal(kv.Value, after[kv.Key]));
    }

    [Fact]
    public void Mi_mask_picks_the_highest_scores_and_differs_from_a_random_mask()
    {
        using var model = ModelBundle.Create("cnn-small", 1).To(torch.CPU);
        using var data = Synthetic.Dataset(64, 3);
        var scores = SensitivityScorer.ComputeScores(model, data, new ScoringOptions { Device = "cpu" });
        using var mask = SensitivityScorer.SelectTop(model, scores, 0.02);
        var s = scores["backbone.fc.weight"].data<float>().ToArray();
        var m = mask.Masks["backbone.fc.weight"].reshape(-1).data<bool>().ToArray();
        var minSelected = s.Where((_, i) => m[i]).Min();
        var maxUnselected = s.Where((_, i) => !m[i]).Max();
        Assert.True(minSelected >= maxUnselected, "top-k must dominate the rest");
        Assert.True(s.Max() > 0, "squared gradients must be non-zero");

        using var random = SensitivityScorer.RandomMask(model, 0.02, 1);
        Assert.Equal(mask.Info.SelectedTotal, random.Info.SelectedTotal);
        var r = random.Masks["backbone.fc.weight"].reshape(-1).data<bool>().ToArray();
        var overlap = m.Zip(r).Count(p => p.First && p.Second);
        Assert.True(overlap < m.Count(b => b) / 5, $"random and MI masks overlap too much ({overlap})");
    }

    [Fact]
    public void Mask_save_load_round_trip_keeps_bits_and_coverage()
    {
        using var model = ModelBundle.Create("mlp", 2).To(torch.CPU);
        using var mask = SensitivityScorer.RandomMask(model, 0.03, 5);
        var path = Path.Combine(Synthetic.TempDir(), "m.mask");
        mask.Save(path);
        using var loaded = SensitivityMask.Load(path);
        Assert.Equal(mask.Info.SelectedTotal, loaded.Info.SelectedTotal);
        Assert.Equal(mask.SelectedFraction, loaded.SelectedFraction);
        Assert.Equal(mask.Coverage.Count, loaded.Coverage.Count);
        var a = Synthetic.MaskArrays(mask);
        var b = Synthetic.MaskArrays(loaded);
        Assert.All(a, kv => Assert.Equal(kv.Value, b[kv.Key]));
        loaded.EnsureCompatible(model);
        using var other = ModelBundle.Create("cnn-small", 2);
        Assert.Throws<InvalidOperationException>(() => loaded.EnsureCompatible(other));
    }
}
