using Pipeline.ML.Data;
using Pipeline.ML.Models;
using Pipeline.ML.Sensitivity;
using Pipeline.ML.Tuning;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.ML.Tests;

public sealed class TuningTests : IDisposable
{
    private readonly ModelBundle baseModel;
    private readonly ImageDataset data;

    public TuningTests()
    {
        baseModel = ModelBundle.Create("cnn-small", 11).To(torch.CPU);
        data = Synthetic.Dataset(128, 5);
    }

    public void Dispose()
    {
        baseModel.Dispose();
        data.Dispose();
    }

    private static TuningOptions Options(int steps = 12, int seed = 1) =>
        new() { Steps = steps, BatchSize = 32, Seed = seed, Device = "cpu" };

    [Theory]
    [InlineData("mist")]
    [InlineData("random")]
    public void Elements_outside_the_mask_stay_bit_identical(string strategy)
    {
        using var mask = strategy == "mist"
            ? SensitivityScorer.Score(baseModel, data, new ScoringOptions { Device = "cpu" })
            : SensitivityScorer.RandomMask(baseModel, 0.02, 3);
        var before = Synthetic.Snapshot(baseModel);
        using var result = Tuner.Tune(strategy, baseModel, mask, data, Options());
        var after = Synthetic.Snapshot(result.Model);
        var m = Synthetic.MaskArrays(mask);
        long changedInside = 0;
        foreach (var (name, values) in after)
        {
            for (var i = 0; i < values.Length; i++)
            {
                if (!m[name][i]) Assert.True(Synthetic.BitEqual(values[i], before[name][i]), $"{name}[{i}] changed outside the mask");
                else if (!Synthetic.BitEqual(values[i], before[name][i])) changedInside++;
            }
        }
        Assert.True(changedInside > 0, "tuning must change something inside the mask");
        // The base model itself is never modified.
        var baseAfter = Synthetic.Snapshot(baseModel);
        Assert.All(before, kv => Assert.Equal(kv.Value, baseAfter[kv.Key]));
    }

    [Fact]
    public void Mist_stays_within_the_selected_and_per_step_budgets()
    {
        var steps = new List<TuningStep>();
        using var result = Tuner.Tune("mist", baseModel, null, data, Options(steps: 20), new SyncProgressForTests<TuningStep>(steps.Add));
        Assert.Equal(20, result.Stats.Steps);
        Assert.Equal(20, steps.Count);
        Assert.True(result.Stats.SelectedFraction <= 0.05, $"selected {result.Stats.SelectedFraction}");
        Assert.True(result.Stats.UpdatedFractionPerStep <= 0.005, $"per step {result.Stats.UpdatedFractionPerStep}");
        Assert.True(result.Stats.UpdatedFractionPerStep > 0, "something must change");
        Assert.All(steps, s => Assert.True(s.UpdatedFraction <= 0.005, $"step {s.Step}: {s.UpdatedFraction}"));
        Assert.Equal(result.Stats.UpdatedFractionPerStep, steps.Average(s => s.UpdatedFraction), 12);
        Assert.Contains(steps, s => s.Phase == "mi");
        Assert.Contains(steps, s => s.Phase == "head");
        Assert.True(result.Stats.ChangedFractionTotal <= result.Stats.SelectedFraction);
        Assert.Equal("cpu", result.Stats.Device);
    }

    [Fact]
    public void Without_dropout_every_masked_element_may_change_each_step()
    {
        using var mask = SensitivityScorer.RandomMask(baseModel, 0.02, 3);
        using var dense = Tuner.Tune("random", baseModel, mask, data, Options(steps: 6) with { DropRate = 0 });
        using var sparse = Tuner.Tune("random", baseModel, mask, data, Options(steps: 6));
        // Bernoulli(0.1) keeps about a tenth of the updates.
        var ratio = sparse.Stats.UpdatedFractionPerStep / dense.Stats.UpdatedFractionPerStep;
        Assert.InRange(ratio, 0.07, 0.13);
    }

    [Theory]
    [InlineData("mist")]
    [InlineData("full")]
    public void Tuning_is_reproducible_on_cpu_with_a_seed(string strategy)
    {
        using var a = Tuner.Tune(strategy, baseModel, null, data, Options(steps: 8, seed: 4));
        using var b = Tuner.Tune(strategy, baseModel, null, data, Options(steps: 8, seed: 4));
        using var c = Tuner.Tune(strategy, baseModel, null, data, Options(steps: 8, seed: 5));
        var sa = Synthetic.Snapshot(a.Model);
        var sb = Synthetic.Snapshot(b.Model);
        var sc = Synthetic.Snapshot(c.Model);
        Assert.All(sa, kv => Assert.True(kv.Value.Zip(sb[kv.Key]).All(p => Synthetic.BitEqual(p.First, p.Second)), kv.Key));
        Assert.Contains(sa, kv => !kv.Value.SequenceEqual(sc[kv.Key]));
    }

    [Fact]
    public void Head_only_freezes_the_backbone_and_full_changes_almost_everything()
    {
        using var head = Tuner.Tune("head", baseModel, null, data, Options(steps: 5));
        var before = Synthetic.Snapshot(baseModel);
        var after = Synthetic.Snapshot(head.Model);
        foreach (var (name, v) in after)
        {
            if (AdaptiveModel.GroupOf(name) != ParameterGroup.Classifier) Assert.Equal(before[name], v);
        }
        Assert.NotEqual(before["classifier.fc.weight"], after["classifier.fc.weight"]);
        Assert.Equal(1290.0 / baseModel.Info.ParamsTotal, head.Stats.SelectedFraction, 9);
        Assert.Equal(2 * 4 * 1290, head.Stats.OptimizerStateBytes);

        using var full = Tuner.Tune("full", baseModel, null, data, Options(steps: 5));
        Assert.Equal(1.0, full.Stats.SelectedFraction);
        Assert.Equal(2L * 4 * baseModel.Info.ParamsTotal, full.Stats.OptimizerStateBytes);
        Assert.True(full.Stats.UpdatedFractionPerStep > 0.3, $"full per step {full.Stats.UpdatedFractionPerStep}");
    }

    [Fact]
    public void Sparse_optimizer_state_covers_only_masked_elements()
    {
        using var mask = SensitivityScorer.RandomMask(baseModel, 0.02, 9);
        using var r = Tuner.Tune("random", baseModel, mask, data, Options(steps: 4));
        // MI phase (backbone + projection) is the larger phase: m, v, step count (4 B each) per element,
        // plus an 8-byte index for tensors that are only partly selected.
        long expected = 0;
        foreach (var c in mask.Coverage.Where(c => c.Group != "classifier"))
            expected += c.Selected * 12 + (c.Selected < c.Total ? c.Selected * 8 : 0);
        Assert.Equal(expected, r.Stats.OptimizerStateBytes);
        Assert.True(r.Stats.OptimizerStateBytes < 2L * 4 * baseModel.Info.ParamsTotal / 10);
    }

    [Fact]
    public void Overlap_penalty_shrinks_updates_of_elements_chosen_before_and_history_is_recorded()
    {
        using var mask = SensitivityScorer.RandomMask(baseModel, 0.02, 3);
        using var first = Tuner.Tune("random", baseModel, mask, data, Options(steps: 6));
        Assert.Equal(1, first.Model.Info.Adaptations);
        var counts = first.Model.SelectionCounts["backbone.fc.weight"];
        Assert.Equal(mask.Masks["backbone.fc.weight"].sum().ToInt64(), counts.sum().ToInt64());

        // Pretend every element was chosen in 200 earlier adaptations: 0.9^200 ≈ 7e-10 scales the updates to ~nothing.
        using var veteran = baseModel.Clone();
        foreach (var (name, p) in veteran.Model.NamedParameters())
            veteran.SelectionCounts[name] = torch.full(p.shape, (short)200, ScalarType.Int16);
        using var fresh = Tuner.Tune("random", baseModel, mask, data, Options(steps: 6));
        using var penalised = Tuner.Tune("random", veteran, mask, data, Options(steps: 6));
        var b = Synthetic.Snapshot(baseModel)["backbone.fc.weight"];
        double MaxMove(ModelBundle m) => Synthetic.Snapshot(m)["backbone.fc.weight"].Zip(b).Max(p => Math.Abs(p.First - p.Second));
        Assert.True(MaxMove(fresh.Model) > 1e-3, "fresh elements move");
        Assert.True(MaxMove(penalised.Model) < 1e-6, "elements chosen 200 times must barely move");
    }

    [Fact]
    public void Cancellation_and_bad_arguments_are_reported()
    {
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => Tuner.Tune("full", baseModel, null, data, Options(), null, cts.Token));
        Assert.Throws<ArgumentException>(() => Tuner.Tune("sgd-magic", baseModel, null, data, Options()));
        Assert.Throws<ArgumentOutOfRangeException>(() => Tuner.Tune("mist", baseModel, null, data, Options() with { DropRate = 1 }));
    }
}

internal sealed class SyncProgressForTests<T>(Action<T> action) : IProgress<T>
{
    public void Report(T value) => action(value);
}
