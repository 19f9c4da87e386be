using Pipeline.ML.Data;
using Pipeline.ML.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.ML.Tests;

public sealed class ModelTests
{
    [Fact]
    public void Architectures_have_the_documented_parameter_counts_and_groups()
    {
        using var cnn = ModelBundle.Create("cnn-small", 1);
        // conv1 16·9+16, conv2 32·16·9+32, fc 1568·128+128, projection 128·32+32, classifier 128·10+10.
        Assert.Equal(160 + 4640 + 200832 + 4128 + 1290, cnn.Info.ParamsTotal);
        using var mlp = ModelBundle.Create("mlp", 1);
        Assert.Equal(784 * 256 + 256 + 256 * 128 + 128 + 4128 + 1290, mlp.Info.ParamsTotal);
        var groups = cnn.Model.NamedParameters().Select(p => AdaptiveModel.GroupOf(p.Name)).Distinct().ToList();
        Assert.Equal(3, groups.Count);
        Assert.Throws<ArgumentException>(() => ModelBundle.Create("resnet", 1));
    }

    [Fact]
    public void Same_seed_gives_identical_initialisation()
    {
        using var a = ModelBundle.Create("cnn-small", 7);
        using var b = ModelBundle.Create("cnn-small", 7);
        using var c = ModelBundle.Create("cnn-small", 8);
        var sa = Synthetic.Snapshot(a);
        Assert.All(Synthetic.Snapshot(b), kv => Assert.Equal(sa[kv.Key], kv.Value));
        Assert.NotEqual(sa["backbone.fc.weight"], Synthetic.Snapshot(c)["backbone.fc.weight"]);
    }

    [Theory]
    [InlineData("cnn-small")]
    [InlineData("mlp")]
    public void Save_and_load_round_trip_weights_metadata_history_and_predictions(string arch)
    {
        var dir = Synthetic.TempDir();
        var path = Path.Combine(dir, "m.model");
        using var m = ModelBundle.Create(arch, 3, "note");
        m.To(torch.CPU);
        m.SelectionCounts["backbone.fc.weight"] = torch.ones(m.Model.NamedParameters().First(p => p.Name.Contains("fc", StringComparison.Ordinal)).Parameter.shape, ScalarType.Int16);
        m.Save(path);
        using var l = ModelBundle.Load(path, torch.CPU);
        Assert.Equal(arch, l.Info.Architecture);
        Assert.Equal(new[] { 1, 28, 28 }, l.Info.InputShape);
        Assert.Equal(10, l.Info.Classes.Length);
        Assert.Equal("Ankle boot", l.Info.Classes[9]);
        Assert.Equal(m.Info.ParamsTotal, l.Info.ParamsTotal);
        Assert.Equal("note", l.Info.Notes);
        Assert.Equal(arch, ModelBundle.ReadInfo(path).Architecture);
        var sm = Synthetic.Snapshot(m);
        foreach (var (name, values) in Synthetic.Snapshot(l))
            Assert.True(values.Zip(sm[name]).All(p => Synthetic.BitEqual(p.First, p.Second)), name);
        Assert.True(l.SelectionCounts.ContainsKey("backbone.fc.weight"));

        using var data = Synthetic.Dataset(8, 1);
        var features = data.ToFeatureVectors();
        var p1 = m.Predict(features);
        var p2 = l.Predict(features);
        Assert.Equal(8, p1.Length);
        for (var i = 0; i < 8; i++)
        {
            Assert.Equal(p1[i].Class, p2[i].Class);
            Assert.Equal(p1[i].Probabilities, p2[i].Probabilities);
            Assert.Equal(1.0, p1[i].Probabilities.Sum(), 4);
            Assert.Equal(Array.IndexOf(p1[i].Probabilities, p1[i].Probabilities.Max()), p1[i].Class);
        }
        var emb = l.Embed(features);
        Assert.Equal(8, emb.Length);
        Assert.Equal(((BuiltInNetwork)l.Model).EmbeddingDim, emb[0].Length);
    }

    [Fact]
    public void Loading_a_corrupt_file_or_bad_features_fails_clearly()
    {
        var dir = Synthetic.TempDir();
        var path = Path.Combine(dir, "junk.model");
        File.WriteAllText(path, "not a model");
        Assert.Throws<InvalidDataException>(() => ModelBundle.Load(path, torch.CPU));
        using var m = ModelBundle.Create("mlp", 1);
        Assert.Throws<ArgumentException>(() => m.Predict([new float[10]]));
    }

    [Fact]
    public void Feature_vectors_round_trip_through_datasets()
    {
        using var data = Synthetic.Dataset(5, 4);
        var f = data.ToFeatureVectors();
        using var back = ImageDataset.FromFeatureVectors(f, data.LabelArray(), FashionMnist.InputShape);
        Assert.True(Synthetic.Same(back.Images, data.Images));
    }
}
