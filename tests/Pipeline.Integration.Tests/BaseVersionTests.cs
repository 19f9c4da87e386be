using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.AdaptationRuns;
using Pipeline.Contracts;
using Pipeline.Deployment;
using Pipeline.Storage.Repositories;

namespace Pipeline.Integration.Tests;

/// <summary>
/// The run carries its base version: when production moves during the run (an operator's rollback or
/// deployment), the run's candidate is not deployed over it and the run fails with that reason. The
/// stage results are published by the test; the owner and the deployment worker are the real ones.
/// </summary>
public class BaseVersionTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_candidate_is_not_deployed_when_production_moved_during_the_run()
    {
        const string model = "moved-model";
        await using var hosts = new ServiceHosts("base-version");
        var events = new EventLogModule();
        var owner = await hosts.StartAsync([new AdaptationRunsModule()]);
        await hosts.StartAsync([new DeploymentModule()]);
        await hosts.StartAsync([events]);
        await Seed.TwoProductionVersionsAsync(owner.Services, model);
        await Seed.ExtraVersionAsync(owner.Services, model, 3);
        await Seed.ExtraVersionAsync(owner.Services, model, 4);
        var bus = await hosts.PublisherAsync();
        var payload = new PayloadRef { Uri = "file:///data/set.pfb", Sha256 = new string('a', 64) };

        await Operators.SendAsync("alice", new StartAdaptation { ModelId = model, Reason = "base version test" });
        var started = await events.Log.WaitAsync<AdaptationRunStarted>(s => s.ModelId == model, Wait);
        Assert.Equal(2, started.BaseVersion);
        var runId = started.RunId;
        await events.Log.WaitAsync<ScoreSensitivity>(w => w.RunId == runId, Wait);
        await bus.Publish(new SensitivityScored
        {
            RunId = runId, ModelId = model, ModelVersion = 2, MaskUri = "file:///data/mask.bin", Sha256 = new string('b', 64),
            SelectedFraction = 0.01, AdaptationSetId = Guid.NewGuid(), AdaptationSet = payload, ShiftedHoldout = payload,
        });
        await events.Log.WaitAsync<TrainCandidate>(w => w.RunId == runId, Wait);
        await bus.Publish(new CandidateTrained
        {
            RunId = runId, ModelId = model, BaseVersion = 2, CandidateVersion = 3, ArtifactUri = "file:///data/v3.bin", Sha256 = new string('c', 64),
            Strategy = "mist", SelectedFraction = 0.01, UpdatedFractionPerStep = 0.001, Steps = 1, TrainSeconds = 0.1, Device = "cpu",
            ShiftedHoldout = payload,
        });
        var evaluate = await events.Log.WaitAsync<EvaluateCandidate>(w => w.RunId == runId, Wait);
        Assert.Equal(2, evaluate.BaseVersion);

        // Meanwhile production moves on (say, an operator deploys v4 by hand).
        await owner.Services.GetRequiredService<IModelRegistry>().SetProductionAsync(model, 4, "alice", "hotfix");
        await bus.Publish(new CandidateEvaluated
        {
            RunId = runId, ModelId = model, CandidateVersion = 3, ProductionVersion = 2, ShiftedAccuracyBefore = 0.5, ShiftedAccuracyAfter = 0.8,
            OriginalAccuracyBefore = 0.9, OriginalAccuracyAfter = 0.9, Forgetting = 0, LatencyMsBefore = 1, LatencyMsAfter = 1,
            Decision = GateDecision.Approve, Reasons = ["passed"],
        });

        var failed = await events.Log.WaitAsync<AdaptationRunFailed>(f => f.RunId == runId, Wait);
        Assert.Equal("deploy", failed.Stage);
        Assert.Contains("moved from v2 to v4 during the run", failed.Reason, StringComparison.Ordinal);
        Assert.Equal(4, (await owner.Services.GetRequiredService<IModelRegistry>().GetProductionAsync(model))!.Version);
        Assert.DoesNotContain(await owner.Services.GetRequiredService<IDeploymentRepository>().ListByModelAsync(model), d => d.RunId == runId);
        var run = await owner.Services.GetRequiredService<IAdaptationRunRepository>().GetAsync(runId);
        Assert.Equal(RunState.Failed, run!.State);
    }
}
