using System.Text.Json;
using Pipeline.ML.Data;
using Pipeline.ML.Models;
using Pipeline.ML.Readout;
using Pipeline.ML.Strategies;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.ML.Tests;

/// <summary>
/// Every version goes back to PyTorch: a version whose readout serves exports as TorchScript + <c>.readout.npz</c>,
/// and tools/byom/load_adapted.py, run by Debian's python3-torch, predicts what the service predicts (1e-4).
/// </summary>
public sealed class ReadoutExportTests
{
    private static float[] Flat(Tensor t) => t.contiguous().data<float>().ToArray();

    private static float[] Softmax(float[] logits, int classes)
    {
        using var t = torch.tensor(logits).reshape(-1, classes);
        using var p = torch.nn.functional.softmax(t, 1);
        return Flat(p);
    }

    private static void AssertClose(float[] expected, float[] actual, double tolerance = 1e-4)
    {
        Assert.Equal(expected.Length, actual.Length);
        var worst = expected.Zip(actual).Max(p => Math.Abs(p.First - p.Second));
        Assert.True(worst <= tolerance, $"largest difference {worst} exceeds {tolerance}");
    }

    /// <summary>Exports <paramref name="served"/> and checks PyTorch's probabilities against the served model's.</summary>
    private static void AssertPyTorchPredictsAsServed(ModelBundle served, Tensor inputs, string expectKind)
    {
        var pt = Path.Combine(Synthetic.TempDir(), "v7.pt");
        var written = served.ExportTorchScript(pt);
        Assert.Equal([pt, Path.Combine(Path.GetDirectoryName(pt)!, "v7.readout.npz")], written);
        var info = PyTorchModels.Run(Path.Combine(PyTorchModels.ToolsDirectory, "load_adapted.py"), pt);
        using (var doc = JsonDocument.Parse(info))
        {
            Assert.Equal(expectKind, doc.RootElement.GetProperty("readout").GetString());
            Assert.Equal(served.Info.Classes, doc.RootElement.GetProperty("classes").EnumerateArray().Select(c => c.GetString()!));
        }

        using var probabilities = served.PredictProbabilities(inputs);
        var c = served.Info.Classes.Length;
        var (logits, _) = PyTorchModels.Predict(pt, Flat(inputs), served.Info.InputShape, adapted: true);
        AssertClose(Flat(probabilities), Softmax(logits, c));
        // The bare TorchScript file is the backbone with its stale classifier: not the served model.
        var (bare, _) = PyTorchModels.Predict(pt, Flat(inputs), served.Info.InputShape);
        Assert.NotEqual(Flat(probabilities).Select(v => Math.Round(v, 3)), Softmax(bare, c).Select(v => Math.Round(v, 3)));
    }

    [Fact]
    public void Npz_written_in_csharp_is_read_by_numpy_with_names_dtypes_shapes_and_values()
    {
        var file = Path.Combine(Synthetic.TempDir(), "a.npz");
        new NpzWriter()
            .Add("m", [1.5, -2.25, 3e-300, double.MaxValue, 0.1, 7], 2, 3)
            .Add("f", [1.25f, -0.5f], 2)
            .Add("i", new[] { 42L })
            .Add("b", true)
            .Add("s", "ridge")
            .Add("u", ["T-shirt/top", "Ankle boot", "é"])
            .Save(file);
        const string Code = """
            import json, sys, numpy as np
            with np.load(sys.argv[1], allow_pickle=False) as f:
                print(json.dumps({k: {"dtype": f[k].dtype.str, "shape": list(f[k].shape), "values": f[k].tolist()} for k in f.files}))
            """;
        using var doc = JsonDocument.Parse(PyTorchModels.Run("-c", Code, file));
        var r = doc.RootElement;
        Assert.Equal(["m", "f", "i", "b", "s", "u"], r.EnumerateObject().Select(p => p.Name));
        Assert.Equal("<f8", r.GetProperty("m").GetProperty("dtype").GetString());
        Assert.Equal([2, 3], r.GetProperty("m").GetProperty("shape").EnumerateArray().Select(x => x.GetInt32()));
        Assert.Equal([1.5, -2.25, 3e-300, double.MaxValue, 0.1, 7],
            r.GetProperty("m").GetProperty("values").EnumerateArray().SelectMany(row => row.EnumerateArray()).Select(x => x.GetDouble()));
        Assert.Equal("<f4", r.GetProperty("f").GetProperty("dtype").GetString());
        Assert.Equal([1.25, -0.5], r.GetProperty("f").GetProperty("values").EnumerateArray().Select(x => x.GetDouble()));
        Assert.Equal("<i8", r.GetProperty("i").GetProperty("dtype").GetString());
        Assert.Empty(r.GetProperty("i").GetProperty("shape").EnumerateArray()); // no shape given: a scalar
        Assert.Equal(42, r.GetProperty("i").GetProperty("values").GetInt64());
        Assert.Equal("|b1", r.GetProperty("b").GetProperty("dtype").GetString());
        Assert.True(r.GetProperty("b").GetProperty("values").GetBoolean());
        Assert.Empty(r.GetProperty("s").GetProperty("shape").EnumerateArray());
        Assert.Equal("ridge", r.GetProperty("s").GetProperty("values").GetString());
        Assert.Equal("<U11", r.GetProperty("u").GetProperty("dtype").GetString());
        Assert.Equal(["T-shirt/top", "Ankle boot", "é"], r.GetProperty("u").GetProperty("values").EnumerateArray().Select(x => x.GetString()!));
        // NPY 1.0: the data of every entry starts at a multiple of 64 bytes.
        var npy = NpzWriter.Npy("<f8", [3], new byte[24]);
        Assert.Equal(0, (npy.Length - 24) % 64);
        Assert.Equal((byte)'\n', npy[npy.Length - 25]);
    }

    [Fact]
    public void Mist_ridge_version_from_the_model_file_predicts_in_pytorch_as_the_service_does()
    {
        using var model = ModelBundle.FromTorchScript(Path.Combine(PyTorchModels.Directory, "cnn.pt"),
            ModelManifest.Load(Path.Combine(PyTorchModels.Directory, "cnn.json")), torch.CPU);
        using var data = TorchScriptModelTests.TestImages(96);
        using var labelled = data.Take(64);
        using var reference = data.Take(32);
        using var test = TorchScriptModelTests.TestImages(128);
        using var ridge = new MistStrategy(new MistOptions { RidgeProjectionDim = 96 }, "mist-ridge", "ridge", 10);
        var context = new AdaptationContext
        {
            Seed = 21, Budget = new AdaptationBudget { Epochs = 2, BatchSize = 16 }, BaseModel = model, Reference = reference, Device = "cpu", Index = 0,
        };
        var (adapted, _) = ridge.Adapt(model, labelled, context);
        using (adapted)
        {
            Assert.True(adapted.ServesReadout);
            // The registry's model file, read back as the inference service reads it.
            var file = Path.Combine(Synthetic.TempDir(), "model.bin");
            adapted.Save(file);
            using var served = ModelBundle.Load(file, torch.CPU);
            AssertPyTorchPredictsAsServed(served, test.Images, "ridge");
        }
    }

    [Fact]
    public void A_built_in_version_with_its_ridge_readout_exports_through_its_torchscript_template()
    {
        // The demo's model is the built-in cnn-small; its mist-ridge version is the registry's model file.
        using var baseModel = ModelBundle.Create("cnn-small", 3);
        using var data = TorchScriptModelTests.TestImages(96);
        using var labelled = data.Take(64);
        using var reference = data.Take(32);
        using var test = TorchScriptModelTests.TestImages(64);
        using var ridge = new MistStrategy(new MistOptions { RidgeProjectionDim = 64 }, "mist-ridge", "ridge", 10);
        var context = new AdaptationContext
        {
            Seed = 5, Budget = new AdaptationBudget { Epochs = 1, BatchSize = 16 }, BaseModel = baseModel, Reference = reference, Device = "cpu", Index = 0,
        };
        var (adapted, _) = ridge.Adapt(baseModel, labelled, context);
        using (adapted)
        {
            var file = Path.Combine(Synthetic.TempDir(), "model.bin");
            adapted.Save(file);
            using var served = ModelBundle.Load(file, torch.CPU);
            Assert.Equal("cnn-small", served.Info.Architecture);
            AssertPyTorchPredictsAsServed(served, test.Images, "ridge");
            var manifest = served.ExportManifest();
            Assert.Equal("embed", manifest.EmbeddingMethod);
            Assert.Equal("classifier", manifest.ClassifierPrefix);
        }

        // Without a readout the TorchScript file alone is the built-in: PyTorch's logits are the network's.
        var pt = Path.Combine(Synthetic.TempDir(), "base.pt");
        Assert.Equal([pt], baseModel.ExportTorchScript(pt));
        using var logits = baseModel.Logits(test.Images);
        var (expected, embedding) = PyTorchModels.Predict(pt, Flat(test.Images), [1, 28, 28], "embed");
        AssertClose(expected, Flat(logits));
        using var emb = baseModel.EmbedTensor(test.Images);
        AssertClose(embedding!, Flat(emb));
        // The exported file registers again as a user's model with its manifest.
        using var again = ModelBundle.FromTorchScript(pt, baseModel.ExportManifest(), torch.CPU);
        using var againLogits = again.Logits(test.Images);
        AssertClose(Flat(logits), Flat(againLogits));
    }

    [Fact]
    public void Prototype_readout_that_serves_predicts_in_pytorch_as_the_service_does()
    {
        using var model = ModelBundle.FromTorchScript(Path.Combine(PyTorchModels.Directory, "tabular.pt"),
            ModelManifest.Load(Path.Combine(PyTorchModels.Directory, "tabular.json")), torch.CPU);
        using var rows = TorchScriptModelTests.TabularRows("tabular-shifted.csv", 120);
        using (var emb = model.EmbedTensor(rows.Images))
        {
            var readout = new PrototypeReadout(model.Info.Classes.Length, (int)emb.shape[1]);
            readout.Update(emb, rows.Labels);
            model.AttachReadout(readout, serves: true);
        }

        AssertPyTorchPredictsAsServed(model, rows.Images, "prototype");
    }

    [Fact]
    public void A_readout_that_does_not_serve_rides_along_and_the_loader_returns_the_module_itself()
    {
        using var model = ModelBundle.FromTorchScript(Path.Combine(PyTorchModels.Directory, "tabular.pt"),
            ModelManifest.Load(Path.Combine(PyTorchModels.Directory, "tabular.json")), torch.CPU);
        using var rows = TorchScriptModelTests.TabularRows("tabular-shifted.csv", 40);
        using (var emb = model.EmbedTensor(rows.Images))
        {
            var readout = new PrototypeReadout(model.Info.Classes.Length, (int)emb.shape[1]);
            readout.Update(emb, rows.Labels);
            model.AttachReadout(readout, serves: false);
        }

        var pt = Path.Combine(Synthetic.TempDir(), "folded.pt");
        Assert.Equal(2, model.ExportTorchScript(pt).Count);
        Assert.Contains("\"readout\": null", PyTorchModels.Run(Path.Combine(PyTorchModels.ToolsDirectory, "load_adapted.py"), pt), StringComparison.Ordinal);
        using var logits = model.Logits(rows.Images);
        AssertClose(Flat(logits), PyTorchModels.Predict(pt, Flat(rows.Images), model.Info.InputShape, adapted: true).Logits);

        // Exporting a version without a readout over an earlier export removes the stale readout file.
        model.DetachReadout();
        Assert.Equal([pt], model.ExportTorchScript(pt));
        Assert.False(File.Exists(ReadoutExport.PathBeside(pt)));
    }

    [Fact]
    public void Bench_adapt_save_adapted_writes_mist_ridge_with_its_readout()
    {
        var dir = PyTorchModels.Directory;
        var save = Synthetic.TempDir();
        Benchmarks.AdaptBenchmark.Run(new Benchmarks.AdaptBenchmarkOptions
        {
            Scenario = "tabular-shift", Seed = 2, Device = "cpu", Methods = ["mist-ridge"],
            ModelPath = Path.Combine(dir, "tabular.pt"), ManifestPath = Path.Combine(dir, "tabular.json"),
            OriginalCsv = Path.Combine(dir, "tabular-reference.csv"), ShiftedCsv = Path.Combine(dir, "tabular-shifted.csv"), LabelColumn = "label",
            SaveAdaptedDirectory = save,
            BudgetOverride = new Benchmarks.BenchmarkBudget { Name = "tiny", AdaptSize = 200, Steps = 6, BatchSize = 32, EvalSize = 300 },
        });
        Assert.True(File.Exists(Path.Combine(save, "mist-ridge.json")));
        var pt = Path.Combine(save, "mist-ridge.pt");
        Assert.True(File.Exists(ReadoutExport.PathBeside(pt)));
        Assert.Contains("\"readout\": \"ridge\"", PyTorchModels.Run(Path.Combine(PyTorchModels.ToolsDirectory, "load_adapted.py"), pt), StringComparison.Ordinal);
        using var rows = TorchScriptModelTests.TabularRows("tabular-shifted.csv", 30);
        Assert.Equal(30 * 3, PyTorchModels.Predict(pt, Flat(rows.Images), [8], adapted: true).Logits.Length);
    }
}
