using Microsoft.Extensions.Logging.Abstractions;
using Pipeline.Artifacts;
using Pipeline.Contracts;
using Pipeline.Storage.Artifacts;
using Pipeline.Storage.Repositories;
using static TorchSharp.torch;

namespace Pipeline.Integration.Tests;

/// <summary>Tuning:Strategy = mist-ridge: the tuner trains a candidate whose ridge readout is in its model file, and the gate measures that readout.</summary>
public sealed class ReadoutWorld() : PipelineWorld("readout")
{
    protected override IDictionary<string, string?> GateSettings => new Dictionary<string, string?>
    {
        ["Gate:Mode"] = "Auto", ["Gate:MinGain"] = "-1", ["Gate:MaxForgetting"] = "1", ["Gate:MaxLatencyIncrease"] = "100",
        ["Tuning:Strategy"] = "mist-ridge",
    };

    /// <summary>The services' artifact store (for pipelinectl models export).</summary>
    public string ArtifactRoot { get; private set; } = "";

    private protected override Task StartMoreAsync(ServiceHosts hosts, IDictionary<string, string?> settings)
    {
        ArtifactRoot = hosts.ArtifactRoot;
        return Task.CompletedTask;
    }
}

public class ReadoutFlowTests(ReadoutWorld world) : IClassFixture<ReadoutWorld>
{
    private static readonly TimeSpan Stage = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task A_mist_ridge_candidate_is_trained_gated_on_its_readout_and_deployed()
    {
        const string model = "readout-model";
        await world.SeedBaseAsync(model);
        await world.IngestAsync(model, 1, Synthetic.Rows(300, seed: 14, shifted: true));

        var detected = await world.Events.WaitAsync<DriftDetected>(d => d.ModelId == model, Stage);
        var trained = await world.Events.WaitAsync<CandidateTrained>(c => c.RunId == detected.RunId, Stage);
        Assert.Equal("mist-ridge", trained.Strategy);
        var evaluated = await world.Events.WaitAsync<CandidateEvaluated>(e => e.RunId == detected.RunId, Stage);
        var finished = await world.Events.WaitAsync<AdaptationRunFinished>(f => f.RunId == detected.RunId, Stage);
        Assert.Equal(RunOutcome.Deployed, finished.Outcome);
        Assert.Equal(trained.CandidateVersion, (await world.Get<IModelRegistry>().GetProductionAsync(model))!.Version);

        // The registered file carries the readout, and the gate's accuracy is the readout's, not the classifier's.
        var models = new ModelArtifacts(world.Get<IModelRegistry>(), world.Get<IArtifactStore>(), NullLogger<ModelArtifacts>.Instance);
        var (candidate, _) = await models.LoadAsync(model, trained.CandidateVersion, "cpu", CancellationToken.None);
        using (candidate)
        {
            Assert.True(candidate.ServesReadout);
            Assert.Equal("ridge", candidate.Readout!.Kind);
            var blob = await new DatasetArtifacts(world.Get<IArtifactStore>()).LoadAsync(trained.ShiftedHoldout, CancellationToken.None);
            using var shifted = DatasetArtifacts.ToDataset(blob, candidate.Info.InputShape);
            var truth = shifted.LabelArray();
            using var probabilities = candidate.PredictProbabilities(shifted.Images);
            var served = Accuracy(probabilities.argmax(1), truth);
            Assert.Equal(served, evaluated.ShiftedAccuracyAfter, 9);
            double classifierOnly;
            using (no_grad())
            using (var logits = candidate.Model.Forward(shifted.Images))
                classifierOnly = Accuracy(logits.argmax(1), truth);
            Assert.True(served > classifierOnly, $"readout {served:F3} vs the untrained classifier {classifierOnly:F3}");

            // Back to PyTorch: pipelinectl models export (over the bus, production by default) writes the built-in's
            // TorchScript template filled with the version's weights, its manifest and the ridge readout's arrays;
            // tools/byom/load_adapted.py then predicts the served probabilities.
            var dir = Directory.CreateTempSubdirectory("readout-export-").FullName;
            var exported = await Pipelinectl.RunAsync("models", "export", model, "--out", dir, "--artifacts", world.ArtifactRoot, "--user", "alice", "--password", "alice");
            Assert.True(exported.Code == 0, exported.Err);
            var name = $"{model}-v{trained.CandidateVersion}";
            Assert.Contains("predicts through its ridge readout", exported.Out, StringComparison.Ordinal);
            Assert.True(File.Exists(Path.Combine(dir, name + ".json")));
            Assert.True(File.Exists(Path.Combine(dir, name + ".readout.npz")));
            using var rows = shifted.Images.narrow(0, 0, Math.Min(64, shifted.Images.shape[0]));
            var pyLogits = Pipeline.ML.Tests.PyTorchModels.Predict(Path.Combine(dir, name + ".pt"), rows.contiguous().data<float>().ToArray(), candidate.Info.InputShape, adapted: true).Logits;
            using var expected = candidate.PredictProbabilities(rows);
            using var pytorch = nn.functional.softmax(tensor(pyLogits).reshape(-1, candidate.Info.Classes.Length), 1);
            var worst = (expected - pytorch).abs().max().item<float>();
            Assert.True(worst <= 1e-4, $"PyTorch's probabilities differ from the service's by {worst}");
        }
    }

    private static double Accuracy(Tensor predicted, long[] truth)
    {
        var p = predicted.data<long>().ToArray();
        return (double)p.Where((c, i) => c == truth[i]).Count() / truth.Length;
    }
}
