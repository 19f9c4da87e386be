using Pipeline.ML.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.ML.Tests;

/// <summary>
/// <see cref="ModelBundle.Serve(Tensor, int)"/>: the one pass serving makes gives the probabilities the model predicts
/// and the embeddings a second pass would compute (<see cref="ModelBundle.EmbedTensor"/>).
/// </summary>
public sealed class ServeTests
{
    private static float[] Flat(Tensor t) => t.contiguous().data<float>().ToArray();

    private static void AssertClose(float[] expected, float[] actual, double tolerance = 1e-5)
    {
        Assert.Equal(expected.Length, actual.Length);
        var worst = expected.Zip(actual).Max(p => Math.Abs(p.First - p.Second));
        Assert.True(worst <= tolerance, $"largest difference {worst} exceeds {tolerance}");
    }

    private static void AssertServeMatchesTwoPasses(ModelBundle model, Tensor inputs, int batchSize)
    {
        using var probabilities = model.PredictProbabilities(inputs);
        using var embeddings = model.EmbedTensor(inputs);

        var (served, embedded) = model.Serve(inputs, batchSize);
        using (served)
        using (embedded)
        {
            Assert.Equal(probabilities.shape, served.shape);
            Assert.Equal(embeddings.shape, embedded.shape);
            AssertClose(Flat(probabilities), Flat(served));
            AssertClose(Flat(embeddings), Flat(embedded));
        }
    }

    [Theory]
    [InlineData("cnn-small")]
    [InlineData("mlp")]
    public void Built_in_models_serve_their_embedding_from_the_predicting_pass(string architecture)
    {
        using var model = ModelBundle.Create(architecture, 3);
        using var data = Synthetic.Dataset(37, 4);

        // A batch size that splits the rows unevenly: the pieces come back in order.
        AssertServeMatchesTwoPasses(model, data.Images, batchSize: 16);
        using var emb = model.EmbedTensor(data.Images);
        Assert.Equal(((BuiltInNetwork)model.Model).EmbeddingDim, (int)emb.shape[1]);
    }

    [Fact]
    public void A_TorchScript_model_serves_its_embed_method_and_one_without_serves_its_logits()
    {
        using (var cnn = ModelBundle.FromTorchScript(
            Path.Combine(PyTorchModels.Directory, "cnn.pt"), ModelManifest.Load(Path.Combine(PyTorchModels.Directory, "cnn.json")), torch.CPU))
        using (var images = TorchScriptModelTests.TestImages(20))
        {
            AssertServeMatchesTwoPasses(cnn, images.Images, batchSize: 512);
        }

        // The tabular model's manifest without its embedding method: the logits are the embedding, from the same pass.
        var manifest = ModelManifest.Load(Path.Combine(PyTorchModels.Directory, "tabular.json")) with { EmbeddingMethod = null };
        using var tabular = ModelBundle.FromTorchScript(Path.Combine(PyTorchModels.Directory, "tabular.pt"), manifest, torch.CPU);
        using var rows = TorchScriptModelTests.TabularRows("tabular-reference.csv", 25);
        AssertServeMatchesTwoPasses(tabular, rows.Images, batchSize: 8);
        var (_, embedded) = tabular.Serve(rows.Images);
        using (embedded)
        {
            Assert.Equal(3, (int)embedded.shape[1]);
        }
    }

    [Fact]
    public void Feature_rows_give_one_prediction_and_one_embedding_row_each()
    {
        using var model = ModelBundle.Create("mlp", 5);
        using var data = Synthetic.Dataset(9, 6);
        var rows = Enumerable.Range(0, 9).Select(i => Flat(data.Images[i].flatten())).ToList();

        var (predictions, embeddings) = model.Serve(rows);

        var expected = model.Predict(rows);
        var embedded = model.Embed(rows);
        Assert.Equal(expected.Select(p => p.Class), predictions.Select(p => p.Class));
        for (var i = 0; i < rows.Count; i++)
        {
            AssertClose(expected[i].Probabilities, predictions[i].Probabilities);
            AssertClose(embedded[i], embeddings[i]);
        }
    }
}
