using Microsoft.Extensions.Logging.Abstractions;
using Pipeline.Adaptation;
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
        }
    }

    private static double Accuracy(Tensor predicted, long[] truth)
    {
        var p = predicted.data<long>().ToArray();
        return (double)p.Where((c, i) => c == truth[i]).Count() / truth.Length;
    }
}
