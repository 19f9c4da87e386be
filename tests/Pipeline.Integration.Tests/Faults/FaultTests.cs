using Pipeline.Contracts;

namespace Pipeline.Integration.Tests.Faults;

/// <summary>
/// SIGKILL of each stage worker while it handles its run's work, then a restart: the broker gives the
/// unacknowledged work to the new process, which does it again; the run still ends deployed with one
/// candidate and one deployment. Bound: <see cref="Bound"/> from the kill.
/// </summary>
[Collection("faults")]
public class WorkerCrashTests(SharedBrokerFaultWorld world) : IClassFixture<SharedBrokerFaultWorld>
{
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(120);

    private static readonly TimeSpan Stage = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Scoring_killed_while_it_waits_for_labels_is_redone_after_restart()
    {
        const string model = "fault-score";
        await world.SeedAsync(model, labelledRows: 100);
        var runId = await world.StartRunAsync(model);

        // Fewer labelled rows than scoring needs: the scorer holds the work, polling for labels.
        await world.Events.WaitAsync<ScoreSensitivity>(w => w.RunId == runId, Stage);
        await Task.Delay(1500);
        Assert.DoesNotContain(world.Events.All.OfType<SensitivityScored>(), s => s.RunId == runId);
        await world.Scoring.KillAsync();
        await world.AddLabelledRowsAsync(model, 300, seed: 51);
        await world.Scoring.StartAsync(FaultWorld.StartTimeout);

        await world.AssertDeployedOnceAsync(model, runId, Bound);
        // The broker's redelivery did it: the owner never had to send the work again.
        Assert.Equal([1], world.Events.All.OfType<ScoreSensitivity>().Where(w => w.RunId == runId).Select(w => w.Attempt).ToArray());
    }

    [Fact]
    public async Task Tuning_killed_mid_training_is_redone_after_restart_with_one_candidate()
    {
        const string model = "fault-tune";
        // Long enough training that the kill lands in it (the other cases tune briefly).
        var longer = new Dictionary<string, string?> { ["Tuning:Steps"] = "300", ["Tuning:ProgressEverySteps"] = "5" };
        await world.Tuning.KillAsync();
        await world.Tuning.StartAsync(FaultWorld.StartTimeout, longer);
        await world.SeedAsync(model, labelledRows: 400);
        var runId = await world.StartRunAsync(model);

        try
        {
            await world.Events.WaitAsync<TuningProgress>(p => p.RunId == runId, Stage);
            Assert.DoesNotContain(world.Events.All.OfType<CandidateTrained>(), c => c.RunId == runId);
            await world.Tuning.KillAsync();
            await world.Tuning.StartAsync(FaultWorld.StartTimeout, longer);

            await world.AssertDeployedOnceAsync(model, runId, Bound);
        }
        finally
        {
            await world.Tuning.KillAsync();
            await world.Tuning.StartAsync(FaultWorld.StartTimeout);
        }
    }

    [Fact]
    public async Task Gate_killed_while_it_evaluates_is_redone_after_restart()
    {
        const string model = "fault-gate";
        await world.SeedAsync(model, labelledRows: 400);
        var runId = await world.StartRunAsync(model);

        await world.Events.WaitAsync<EvaluateCandidate>(w => w.RunId == runId, Stage);
        await world.Gate.KillAsync();
        await world.Gate.StartAsync(FaultWorld.StartTimeout);

        await world.AssertDeployedOnceAsync(model, runId, Bound);
    }

    [Fact]
    public async Task Deployment_killed_when_it_gets_its_work_deploys_once_after_restart()
    {
        const string model = "fault-deploy";
        await world.SeedAsync(model, labelledRows: 400);
        var runId = await world.StartRunAsync(model);

        await world.Events.WaitAsync<DeployCandidate>(w => w.RunId == runId, Stage);
        await world.Deployment.KillAsync();
        await world.Deployment.StartAsync(FaultWorld.StartTimeout);

        await world.AssertDeployedOnceAsync(model, runId, Bound);
    }
}

/// <summary>The broker stops while the tuner trains and starts again: the run still ends deployed, once.</summary>
[Collection("faults")]
public class BrokerRestartTests(OwnBrokerFaultWorld world) : IClassFixture<OwnBrokerFaultWorld>
{
    [Fact]
    public async Task A_broker_restart_mid_tuning_still_ends_deployed_once()
    {
        const string model = "fault-broker";
        await world.SeedAsync(model, labelledRows: 400);
        var runId = await world.StartRunAsync(model);

        await world.Events.WaitAsync<TuningProgress>(p => p.RunId == runId, TimeSpan.FromSeconds(90));
        await world.Node!.StopNodeAsync();
        await Task.Delay(TimeSpan.FromSeconds(3));
        await world.Node.StartNodeAsync();

        await world.AssertDeployedOnceAsync(model, runId, WorkerCrashTests.Bound);
    }
}
