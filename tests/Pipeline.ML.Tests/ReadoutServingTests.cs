using Pipeline.ML.Data;
using Pipeline.ML.Models;
using Pipeline.ML.Readout;
using Pipeline.ML.Strategies;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.ML.Tests;

/// <summary>MIST's readouts are part of the served model: saved in the model file, applied by its forward, accumulated across adaptations.</summary>
public sealed class ReadoutServingTests
{
    private static AdaptationContext Context(ModelBundle baseModel, ImageDataset reference, int index) => new()
    {
        Seed = 21 + index,
        Budget = new AdaptationBudget { Epochs = 2, BatchSize = 16 },
        BaseModel = baseModel,
        Reference = reference,
        Device = "cpu",
        Index = index,
    };

    // A smaller projection than the default 1,024 keeps the λ search fast; the code path is the same.
    private static MistStrategy Ridge() => new(new MistOptions { RidgeProjectionDim = 96 }, "mist-ridge", "ridge", 10);

    private static Dictionary<string, double[]> State(IReadout readout) =>
        readout.State().Tensors.ToDictionary(t => t.Name, t => t.Tensor.contiguous().data<double>().ToArray());

    private static float[] Probabilities(ModelBundle model, Tensor images)
    {
        using var p = model.PredictProbabilities(images);
        return p.contiguous().data<float>().ToArray();
    }

    [Fact]
    public void Mist_ridge_model_round_trips_predicts_through_its_readout_and_accumulates_when_adapted_again()
    {
        using var baseModel = ModelBundle.Create("mlp", 5);
        using var reference = Synthetic.Dataset(40, 2);
        using var d1raw = Synthetic.Dataset(48, 1);
        using var d1 = DriftScenario.Parse("invert").Apply(d1raw, 0);
        using var d2raw = Synthetic.Dataset(48, 3);
        using var d2 = DriftScenario.Parse("rotate-30").Apply(d2raw, 0);
        using var test = Synthetic.Dataset(64, 9);
        var dir = Synthetic.TempDir();
        var file = Path.Combine(dir, "ridge.bin");

        // The benchmark's way: one strategy instance adapts its own result twice, in memory.
        using var strategy = Ridge();
        var (first, _) = strategy.Adapt(baseModel, d1, Context(baseModel, reference, 0));
        using (first)
        {
            Assert.True(first.ServesReadout);
            Assert.Equal("ridge", first.Readout!.Kind);
            // The served forward is the readout, not the (untrained) classifier, and agrees with the benchmark's Predict.
            using (var served = first.PredictProbabilities(test.Images))
            using (var classes = served.argmax(1))
                Assert.Equal(strategy.Predict(first, test.Images), classes.data<long>().ToArray());
            using (var logits = first.Model.Forward(test.Images))
            using (var byReadout = first.Logits(test.Images))
                Assert.False(Synthetic.Same(logits, byReadout), "the served logits must be the readout's, not the classifier's");

            first.Save(file);
            using var loaded = ModelBundle.Load(file, torch.CPU);
            Assert.True(loaded.ServesReadout);
            Assert.Equal(State(first.Readout!), State(loaded.Readout!));
            Assert.Equal(Probabilities(first, test.Images), Probabilities(loaded, test.Images));
            Assert.Equal(strategy.Predict(first, test.Images), strategy.Predict(loaded, test.Images));
            Assert.Equal(first.FrozenElements.Keys.Order(), loaded.FrozenElements.Keys.Order());
            foreach (var (name, f) in first.FrozenElements) Assert.True(Synthetic.Same(f, loaded.FrozenElements[name]), name);

            var (inMemory, _) = strategy.Adapt(first, d2, Context(baseModel, reference, 1));
            // The service's way: a new strategy instance adapts the model loaded from its file.
            using var fresh = Ridge();
            var (fromFile, _) = fresh.Adapt(loaded, d2, Context(baseModel, reference, 1));
            using (inMemory)
            using (fromFile)
            {
                Assert.Equal(State(inMemory.Readout!), State(fromFile.Readout!));
                Assert.Equal(Probabilities(inMemory, test.Images), Probabilities(fromFile, test.Images));

                // Accumulated: G after the second adaptation is G after the first plus Hᵀ·H of the second domain's
                // embeddings (through the final backbone), nothing re-initialised from the reference.
                var before = first.Readout!.State().Tensors.ToDictionary(t => t.Name, t => t.Tensor);
                var after = fromFile.Readout!.State().Tensors.ToDictionary(t => t.Name, t => t.Tensor);
                using var emb = fromFile.EmbedTensor(d2.Images);
                using var h = torch.nn.functional.relu(emb.to(ScalarType.Float64).matmul(after["w_rand"]));
                using var expected = before["g"] + h.t().matmul(h);
                Assert.True(Synthetic.Same(after["w_rand"], before["w_rand"]), "the random projection is fixed for good");
                Assert.True(expected.allclose(after["g"], rtol: 1e-9, atol: 1e-9), "G = G₁ + H₂ᵀH₂");
            }
        }
    }

    [Fact]
    public void Mist_prototype_statistics_survive_the_file_and_count_every_domain()
    {
        using var baseModel = ModelBundle.Create("cnn-small", 5);
        using var reference = Synthetic.Dataset(30, 2);
        using var d1 = Synthetic.Dataset(32, 1);
        using var d2 = Synthetic.Dataset(32, 3);
        var file = Path.Combine(Synthetic.TempDir(), "proto.bin");
        using var s1 = ContinualStrategies.Create("mist");
        var (first, _) = s1.Adapt(baseModel, d1, Context(baseModel, reference, 0));
        using (first)
        {
            // Folded into the built-in's linear classifier: the classifier serves, the statistics ride along.
            Assert.False(first.ServesReadout);
            first.Save(file);
        }
        using var loaded = ModelBundle.Load(file, torch.CPU);
        var proto = Assert.IsType<PrototypeReadout>(loaded.Readout);
        Assert.Equal((double)(reference.Count + d1.Count), proto.Counts.Sum());
        using var s2 = ContinualStrategies.Create("mist");
        var (second, _) = s2.Adapt(loaded, d2, Context(baseModel, reference, 1));
        using (second)
            Assert.Equal((double)(reference.Count + d1.Count + d2.Count), Assert.IsType<PrototypeReadout>(second.Readout).Counts.Sum());
    }

    [Fact]
    public void A_model_without_readout_keeps_the_original_file_format_and_behaviour()
    {
        using var model = ModelBundle.Create("mlp", 7);
        using var test = Synthetic.Dataset(32, 4);
        var file = Path.Combine(Synthetic.TempDir(), "plain.bin");
        model.Save(file);
        using (var reader = new BinaryReader(File.OpenRead(file)))
            Assert.Equal("PIPELINE-ML-MODEL-1", reader.ReadString());
        using var loaded = ModelBundle.Load(file, torch.CPU);
        Assert.Null(loaded.Readout);
        Assert.False(loaded.ServesReadout);
        Assert.Empty(loaded.FrozenElements);
        using var expected = torch.nn.functional.softmax(model.Model.Forward(test.Images), 1);
        using var served = loaded.PredictProbabilities(test.Images);
        Assert.True(Synthetic.Same(expected, served), "predictions are the network's own");
    }

    [Fact]
    public void Strategies_that_train_the_classifier_drop_the_readout_and_the_input_keeps_it()
    {
        using var baseModel = ModelBundle.Create("mlp", 5);
        using var reference = Synthetic.Dataset(40, 2);
        using var d1 = Synthetic.Dataset(48, 1);
        using var ridge = Ridge();
        var (adapted, _) = ridge.Adapt(baseModel, d1, Context(baseModel, reference, 0));
        using (adapted)
        {
            foreach (var name in new[] { "full", "ewc", "lora", "ties" })
            {
                using var s = ContinualStrategies.Create(name);
                var (next, _) = s.Adapt(adapted, d1, Context(adapted, reference, 1));
                using (next)
                {
                    Assert.Null(next.Readout);
                    Assert.False(next.ServesReadout, name);
                }
            }
            Assert.True(adapted.ServesReadout);
        }
    }

    [Fact]
    public void A_users_torchscript_model_serves_its_ridge_readout_from_the_model_file()
    {
        using var model = ModelBundle.FromTorchScript(Path.Combine(PyTorchModels.Directory, "cnn.pt"),
            ModelManifest.Load(Path.Combine(PyTorchModels.Directory, "cnn.json")), torch.CPU);
        using var data = TorchScriptModelTests.TestImages(96);
        using var labelled = data.Take(64);
        using var reference = data.Take(32);
        using var test = TorchScriptModelTests.TestImages(128);
        using var ridge = Ridge();
        var (adapted, _) = ridge.Adapt(model, labelled, Context(model, reference, 0));
        using (adapted)
        {
            Assert.True(adapted.ServesReadout);
            var file = Path.Combine(Synthetic.TempDir(), "script-ridge.bin");
            adapted.Save(file);
            using var loaded = ModelBundle.Load(file, torch.CPU);
            Assert.Equal("torchscript", loaded.Info.Architecture);
            Assert.Equal(Probabilities(adapted, test.Images), Probabilities(loaded, test.Images));
            // Exported, the TorchScript file carries the backbone and the readout's arrays lie beside it (ReadoutExportTests).
            var written = loaded.ExportTorchScript(Path.Combine(Synthetic.TempDir(), "x.pt"));
            Assert.Equal(2, written.Count);
            Assert.EndsWith("x.readout.npz", written[1], StringComparison.Ordinal);
        }
    }
}
