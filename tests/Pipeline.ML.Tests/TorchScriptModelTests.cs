using System.Globalization;
using Pipeline.ML.Data;
using Pipeline.ML.Models;
using Pipeline.ML.Sensitivity;
using Pipeline.ML.Tuning;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.ML.Tests;

/// <summary>Users' models: TorchScript files exported by a real PyTorch, run, adapted and handed back to it.</summary>
public sealed class TorchScriptModelTests
{
    private static string Cnn => Path.Combine(PyTorchModels.Directory, "cnn.pt");
    private static string Tabular => Path.Combine(PyTorchModels.Directory, "tabular.pt");

    private static ModelBundle LoadCnn() =>
        ModelBundle.FromTorchScript(Cnn, ModelManifest.Load(Path.Combine(PyTorchModels.Directory, "cnn.json")), torch.CPU);

    private static ModelBundle LoadTabular() =>
        ModelBundle.FromTorchScript(Tabular, ModelManifest.Load(Path.Combine(PyTorchModels.Directory, "tabular.json")), torch.CPU);

    internal static ImageDataset TestImages(int n)
    {
        var dir = FashionMnist.DefaultDirectory;
        using var all = FashionMnist.LoadIdx(Path.Combine(dir, "t10k-images-idx3-ubyte.gz"), Path.Combine(dir, "t10k-labels-idx1-ubyte.gz"));
        return all.Take(n);
    }

    internal static ImageDataset TabularRows(string file, int n)
    {
        var lines = File.ReadAllLines(Path.Combine(PyTorchModels.Directory, file)).Skip(1).Take(n).ToList();
        var rows = lines.Select(l => l.Split(',')).ToList();
        var x = rows.Select(r => r[..^1].Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray()).ToList();
        var y = rows.Select(r => long.Parse(r[^1], CultureInfo.InvariantCulture)).ToArray();
        return ImageDataset.FromFeatureVectors(x, y, [x[0].Length]);
    }

    private static float[] Flat(Tensor t) => t.contiguous().data<float>().ToArray();

    private static void AssertClose(float[] expected, float[] actual, double tolerance = 1e-4)
    {
        Assert.Equal(expected.Length, actual.Length);
        var worst = expected.Zip(actual).Max(p => Math.Abs(p.First - p.Second));
        Assert.True(worst <= tolerance, $"largest difference {worst} exceeds {tolerance}");
    }

    [Fact]
    public void Cnn_logits_and_embeddings_equal_pytorchs()
    {
        using var model = LoadCnn();
        Assert.Equal("torchscript", model.Info.Architecture);
        Assert.Equal([1, 28, 28], model.Info.InputShape);
        Assert.Equal(10, model.Info.Classes.Length);
        Assert.Contains(model.Model.NamedBuffers(), b => b.Name.EndsWith("running_mean", StringComparison.Ordinal));
        using var data = TestImages(64);
        using var logits = model.Logits(data.Images);
        using var emb = model.EmbedTensor(data.Images);
        var (expected, expectedEmb) = PyTorchModels.Predict(Cnn, Flat(data.Images), model.Info.InputShape, "embed");
        AssertClose(expected, Flat(logits));
        AssertClose(expectedEmb!, Flat(emb));
        var acc = model.Predict(data.ToFeatureVectors()).Zip(data.LabelArray()).Count(p => p.First.Class == p.Second) / 64.0;
        Assert.True(acc > 0.6, $"the exported CNN should classify Fashion-MNIST (accuracy {acc})");
    }

    [Fact]
    public void Tabular_logits_equal_pytorchs_and_the_manifest_columns_are_kept()
    {
        using var model = LoadTabular();
        Assert.Equal([8], model.Info.InputShape);
        Assert.Equal("raw", model.Info.InputScale);
        Assert.Equal(["numeric", "numeric", "numeric", "numeric", "numeric", "numeric", "categorical", "categorical"], model.Info.Features!.Select(f => f.Kind));
        Assert.Equal(ParameterGroup.Classifier, model.Model.GroupOf("head.weight"));
        Assert.Equal(ParameterGroup.Backbone, model.Model.GroupOf("body.0.weight"));
        using var data = TabularRows("tabular-reference.csv", 200);
        using var logits = model.Logits(data.Images);
        AssertClose(PyTorchModels.Predict(Tabular, Flat(data.Images), [8]).Logits, Flat(logits));
    }

    [Fact]
    public void Mist_on_a_batch_norm_cnn_changes_only_masked_elements_and_pytorch_loads_the_result()
    {
        using var model = LoadCnn();
        using var data = TestImages(96);
        var options = new TuningOptions { Steps = 6, BatchSize = 32, Seed = 3, Device = "cpu", SelectRate = 0.05 };
        using var mask = SensitivityScorer.Score(model, data, new ScoringOptions { SelectRate = 0.05, Seed = 3, Device = "cpu", BatchSize = 48 });
        Assert.True(mask.SelectedFraction < 0.2, $"selected {mask.SelectedFraction}");
        Assert.DoesNotContain(mask.Coverage, c => c.Group == "projection");
        var before = Synthetic.Snapshot(model);
        var buffersBefore = model.Model.NamedBuffers().ToDictionary(b => b.Name, b => b.Buffer.clone());
        using var tuned = Tuner.Tune("mist", model, mask, data, options);

        var after = Synthetic.Snapshot(tuned.Model);
        Assert.Equal(before.Keys.Order(), after.Keys.Order());
        var changed = 0L;
        foreach (var (name, values) in after)
        {
            var allowed = mask.Masks[name].flatten().data<bool>().ToArray();
            for (var i = 0; i < values.Length; i++)
            {
                if (!allowed[i]) Assert.True(Synthetic.BitEqual(before[name][i], values[i]), $"{name}[{i}] is outside the mask but changed");
                else if (!Synthetic.BitEqual(before[name][i], values[i])) changed++;
            }
        }
        Assert.True(changed > 0, "tuning must change some masked element");
        foreach (var (name, b) in tuned.Model.Model.NamedBuffers())
            Assert.True(b.eq(buffersBefore[name]).all().item<bool>(), $"buffer {name} (running statistics) must stay as trained");
        Assert.Equal(model.Info.ParamsTotal, tuned.Model.Info.ParamsTotal);

        var dir = Synthetic.TempDir();
        var adapted = Path.Combine(dir, "adapted.pt");
        tuned.Model.ExportTorchScript(adapted);
        using var logits = tuned.Model.Logits(data.Images);
        AssertClose(PyTorchModels.Predict(adapted, Flat(data.Images), [1, 28, 28]).Logits, Flat(logits));
    }

    [Theory]
    [InlineData("full")]
    [InlineData("head")]
    [InlineData("random")]
    public void Every_strategy_adapts_the_tabular_model_by_parameter_name(string strategy)
    {
        using var model = LoadTabular();
        using var data = TabularRows("tabular-shifted.csv", 256);
        using var tuned = Tuner.Tune(strategy, model, null, data, new TuningOptions { Steps = 8, BatchSize = 64, Seed = 5, Device = "cpu", SelectRate = 0.1 });
        var before = Synthetic.Snapshot(model);
        var after = Synthetic.Snapshot(tuned.Model);
        var moved = after.Where(kv => !kv.Value.SequenceEqual(before[kv.Key])).Select(kv => kv.Key).ToList();
        Assert.NotEmpty(moved);
        if (strategy == "head") Assert.All(moved, n => Assert.StartsWith("head.", n, StringComparison.Ordinal));
        var path = Path.Combine(Synthetic.TempDir(), strategy + ".pt");
        tuned.Model.ExportTorchScript(path);
        using var logits = tuned.Model.Logits(data.Images);
        AssertClose(PyTorchModels.Predict(path, Flat(data.Images), [8]).Logits, Flat(logits));
    }

    [Fact]
    public void A_torchscript_bundle_round_trips_with_its_history()
    {
        using var model = LoadTabular();
        model.SelectionCounts["body.0.weight"] = torch.ones(model.Model.NamedParameters().First(p => p.Name == "body.0.weight").Parameter.shape, ScalarType.Int16);
        var path = Path.Combine(Synthetic.TempDir(), "t.model");
        model.Save(path);
        Assert.Equal("torchscript", ModelBundle.ReadInfo(path).Architecture);
        using var back = ModelBundle.Load(path, torch.CPU);
        Assert.Equal(System.Text.Json.JsonSerializer.Serialize(model.Info), System.Text.Json.JsonSerializer.Serialize(back.Info));
        var a = Synthetic.Snapshot(model);
        var b = Synthetic.Snapshot(back);
        foreach (var (name, v) in a) Assert.True(v.Zip(b[name]).All(p => Synthetic.BitEqual(p.First, p.Second)), name);
        Assert.Equal(model.SelectionCounts["body.0.weight"].sum().ToInt64(), back.SelectionCounts["body.0.weight"].sum().ToInt64());
        using var clone = back.Clone();
        Assert.True(Synthetic.Snapshot(clone).All(kv => kv.Value.SequenceEqual(b[kv.Key])));
    }

    [Fact]
    public void A_manifest_that_disagrees_with_the_module_is_refused_with_the_reason()
    {
        var manifest = ModelManifest.Load(Path.Combine(PyTorchModels.Directory, "cnn.json"));
        string Refusal(ModelManifest m, string? file = null) =>
            Assert.Throws<ModelValidationException>(() => ModelBundle.FromTorchScript(file ?? Cnn, m, torch.CPU)).Message;

        Assert.Contains("must return [2, 3] logits", Refusal(manifest with { Classes = ["a", "b", "c"] }), StringComparison.Ordinal);
        // Every layer that owns parameters is listed (not a sample that cuts off the classifier), the last one named.
        Assert.Contains("classifier_prefix 'fc' names no parameter; the module's parameter prefixes are features.0, features.1, features.4, features.5, features.9, classifier (the last, 'classifier', is usually the final layer)",
            Refusal(manifest with { ClassifierPrefix = "fc" }), StringComparison.Ordinal);
        Assert.Contains("rejects input_shape [3, 32, 32]", Refusal(manifest with { InputShape = [3, 32, 32] }), StringComparison.Ordinal);
        Assert.Contains("embedding_method 'features_of'", Refusal(manifest with { EmbeddingMethod = "features_of" }), StringComparison.Ordinal);
        var junk = Path.Combine(Synthetic.TempDir(), "junk.pt");
        File.WriteAllText(junk, "not a model");
        Assert.Contains("junk.pt is not a TorchScript module", Refusal(manifest, junk), StringComparison.Ordinal);
    }

    [Fact]
    public void Bench_adapt_runs_on_a_users_tabular_model_and_saves_torchscript_pytorch_loads()
    {
        var dir = PyTorchModels.Directory;
        var save = Synthetic.TempDir();
        var result = Benchmarks.AdaptBenchmark.Run(new Benchmarks.AdaptBenchmarkOptions
        {
            Scenario = "tabular-shift", Seed = 2, Device = "cpu", Methods = ["head", "mist"],
            ModelPath = Path.Combine(dir, "tabular.pt"), ManifestPath = Path.Combine(dir, "tabular.json"),
            OriginalCsv = Path.Combine(dir, "tabular-reference.csv"), ShiftedCsv = Path.Combine(dir, "tabular-shifted.csv"), LabelColumn = "label",
            SaveAdaptedDirectory = save,
            BudgetOverride = new Benchmarks.BenchmarkBudget { Name = "tiny", AdaptSize = 200, Steps = 6, BatchSize = 32, EvalSize = 300 },
        });
        Assert.Equal("csv", result.Dataset);
        Assert.Equal("torchscript", result.Model.Architecture);
        Assert.Equal(["head", "mist"], result.Results.Select(r => r.Method));
        Assert.InRange(result.Base.AccOriginal, 0.7, 1.0);
        Assert.True(result.Base.AccShifted < result.Base.AccOriginal, "the shifted CSV must hurt the exported model");
        using var rows = TabularRows("tabular-shifted.csv", 50);
        foreach (var method in new[] { "head", "mist" })
        {
            var manifest = ModelManifest.Load(Path.Combine(save, method + ".json"));
            using var adapted = ModelBundle.FromTorchScript(Path.Combine(save, method + ".pt"), manifest, torch.CPU);
            using var logits = adapted.Logits(rows.Images);
            AssertClose(PyTorchModels.Predict(Path.Combine(save, method + ".pt"), Flat(rows.Images), [8]).Logits, Flat(logits));
        }
    }
}
