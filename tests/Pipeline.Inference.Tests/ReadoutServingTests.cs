using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Artifacts;
using Pipeline.Contracts;
using Pipeline.ML.Models;
using Pipeline.ML.Readout;
using TorchSharp;

namespace Pipeline.Inference.Tests;

/// <summary>A version whose model file carries a serving readout (mist-ridge) is served through it by /predict.</summary>
public sealed class ReadoutServingTests
{
    [Fact]
    public async Task Predict_serves_the_ridge_readout_saved_in_the_model_file()
    {
        var rows = Data.Rows(6, seed: 5);
        float[] expected = [];
        float[] classifierOnly = [];
        await using var host = await InferenceHost.StartAsync(async s =>
        {
            using var bundle = ModelBundle.Create("mlp", 4);
            using var fit = bundle.ToInputs(Data.Rows(64, seed: 9));
            using var labels = torch.tensor(Enumerable.Range(0, 64).Select(i => (long)(i % 10)).ToArray());
            using (var emb = bundle.EmbedTensor(fit))
            {
                var readout = new RidgeReadout(10, (int)emb.shape[1], 64, seed: 1);
                readout.Update(emb, labels);
                bundle.AttachReadout(readout, serves: true);
            }

            // What serving must return, computed here from the embedding and the readout directly.
            using var inputs = bundle.ToInputs(rows);
            using (var emb = bundle.EmbedTensor(inputs))
            using (var scores = bundle.Readout!.Scores(emb))
            using (var p = torch.nn.functional.softmax(scores, 1))
                expected = p.contiguous().data<float>().ToArray();
            using (torch.no_grad())
            using (var logits = bundle.Model.Forward(inputs))
            using (var p = torch.nn.functional.softmax(logits, 1))
                classifierOnly = p.contiguous().data<float>().ToArray();

            await s.GetRequiredService<ModelArtifacts>()
                .RegisterAsync(InferenceHost.ModelId, bundle, "tests", new VersionMetadata(), null, CancellationToken.None);
            await InferenceHost.SetProductionAsync(s, 1);
        });

        var response = await host.PostJsonAsync("/predict", Data.PredictJson(rows));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var served = (await response.Content.ReadFromJsonAsync<PredictResponse>())!.Predictions.SelectMany(p => p.Probabilities).ToArray();
        Assert.Equal(expected.Length, served.Length);
        Assert.All(expected.Zip(served), v => Assert.Equal(v.First, v.Second, 1e-5f));
        Assert.Contains(classifierOnly.Zip(served), v => Math.Abs(v.First - v.Second) > 1e-3f);
    }
}
