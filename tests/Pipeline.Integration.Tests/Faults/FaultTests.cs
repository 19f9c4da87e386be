using Microsoft.Extensions.DependencyInjection;
using Pipeline.Contracts;
using Pipeline.Storage.Repositories;

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

    /// <summary>
    /// The chaos case, under the per-service users: the run owner is killed while its outbox holds the run's next
    /// work (its broker user may not publish TrainCandidate for a moment, so the relay keeps the row), then restarted
    /// with its rights back. The restarted owner relays the row and the run ends once, deployed.
    /// </summary>
    [Fact]
    public async Task Owner_killed_with_rows_in_its_outbox_ends_the_run_once_after_restart()
    {
        const string model = "fault-owner";
        var owner = world.Process("AdaptationRuns");
        var outbox = world.Services.GetRequiredService<IRunStepStore>();
        await world.SeedAsync(model, labelledRows: 100);
        var runId = await world.StartRunAsync(model);
        await world.Events.WaitAsync<ScoreSensitivity>(w => w.RunId == runId, Stage);

        var vhost = Broker.VirtualHost;
        var rights = (await LeastPrivilegeVhost.CtlAsync("list_permissions", "-p", vhost)).Split('\n')
            .Select(l => l.Split('\t')).Single(f => f[0] == "adaptation-runs");
        Assert.Contains("TrainCandidate|", rights[2], StringComparison.Ordinal);
        try
        {
            await LeastPrivilegeVhost.CtlAsync("set_permissions", "-p", vhost, "adaptation-runs", rights[1], rights[2].Replace("TrainCandidate|", "", StringComparison.Ordinal), rights[3]);
            // Permission checks are cached per channel: the owner reconnects with the narrower rights.
            foreach (var pid in (await LeastPrivilegeVhost.CtlAsync("list_connections", "-p", vhost, "user", "pid")).Split('\n')
                         .Select(l => l.Split('\t')).Where(f => f.Length == 2 && f[0] == "adaptation-runs").Select(f => f[1].Trim()))
            {
                await LeastPrivilegeVhost.CtlAsync("close_connection", pid, "fault test: narrower rights");
            }

            // Scoring can finish now; the owner takes SensitivityScored and writes TrainCandidate to its outbox, unsent.
            await world.AddLabelledRowsAsync(model, 300, seed: 52);
            await world.Events.WaitAsync<SensitivityScored>(s => s.RunId == runId, Stage);
            var until = DateTime.UtcNow + Stage;
            while (!(await outbox.PeekOutboxAsync(100)).Any(e => e.MessageType.EndsWith(".TrainCandidate", StringComparison.Ordinal)))
            {
                Assert.True(DateTime.UtcNow < until, "the owner never wrote TrainCandidate to its outbox");
                await Task.Delay(200);
            }

            await Task.Delay(1500);
            Assert.Contains(await outbox.PeekOutboxAsync(100), e => e.MessageType.EndsWith(".TrainCandidate", StringComparison.Ordinal));
            Assert.DoesNotContain(world.Events.All.OfType<TrainCandidate>(), t => t.RunId == runId);
            await owner.KillAsync();
        }
        finally
        {
            await LeastPrivilegeVhost.CtlAsync("set_permissions", "-p", vhost, "adaptation-runs", rights[1], rights[2], rights[3]);
        }

        await owner.StartAsync(FaultWorld.StartTimeout);
        await world.AssertDeployedOnceAsync(model, runId, Bound);
    }

    /// <summary>
    /// SIGKILL of the run owner while a stage works: the stage's result waits in the owner's queue, and the restarted
    /// owner takes it and ends the run once. Scoring: the scorer waits for labels the test adds after the kill.
    /// Deploying: deployment is stopped until the owner has sent its work and been killed, then deploys while the
    /// owner is down.
    /// </summary>
    [Theory]
    [InlineData("Scoring")]
    [InlineData("Deploying")]
    public async Task Owner_killed_while_a_stage_works_ends_the_run_once_after_restart(string stage)
    {
        var model = $"fault-owner-{stage.ToLowerInvariant()}";
        var owner = world.Process("AdaptationRuns");
        try
        {
            await world.SeedAsync(model, labelledRows: stage == "Scoring" ? 100 : 400);
            var runId = await world.StartRunAsync(model);
            if (stage == "Scoring")
            {
                await world.Events.WaitAsync<ScoreSensitivity>(w => w.RunId == runId, Stage);
                await owner.KillAsync();
                await world.AddLabelledRowsAsync(model, 300, seed: 53);
                await world.Events.WaitAsync<SensitivityScored>(s => s.RunId == runId, Stage);
            }
            else
            {
                await world.Events.WaitAsync<EvaluateCandidate>(w => w.RunId == runId, Stage);
                await world.Deployment.KillAsync();
                await world.Events.WaitAsync<DeployCandidate>(w => w.RunId == runId, Stage);
                await owner.KillAsync();
                await world.Deployment.StartAsync(FaultWorld.StartTimeout);
                await world.Events.WaitAsync<ModelDeployed>(d => d.RunId == runId, Stage);
            }

            Assert.DoesNotContain(world.Events.All.OfType<AdaptationRunFinished>(), f => f.RunId == runId);
            await owner.StartAsync(FaultWorld.StartTimeout);
            await world.AssertDeployedOnceAsync(model, runId, Bound);
        }
        finally
        {
            await owner.EnsureRunningAsync(FaultWorld.StartTimeout);
            await world.Deployment.EnsureRunningAsync(FaultWorld.StartTimeout);
        }
    }

    /// <summary>
    /// With a person in the loop: alice approves over the bus, and the owner is killed 0.4 s later (before, during or
    /// after it records the decision and sends the deployment). Restarted, it deploys once, recorded as alice's.
    /// </summary>
    [Fact]
    public async Task Owner_killed_just_after_an_approval_deploys_once_after_restart()
    {
        const string model = "fault-approve";
        var owner = world.Process("AdaptationRuns");
        var manual = new Dictionary<string, string?> { ["Gate:Mode"] = "Manual" };
        await world.Gate.KillAsync();
        await world.Gate.StartAsync(FaultWorld.StartTimeout, manual);
        try
        {
            await world.SeedAsync(model, labelledRows: 400);
            var runId = await world.StartRunAsync(model);
            await world.Events.WaitAsync<ApprovalRequested>(a => a.RunId == runId, Stage);
            await world.PublishAsOperatorAsync(new ApproveCandidate { RunId = runId, Reason = "fault test" });
            await Task.Delay(400);
            await owner.KillAsync();
            await owner.StartAsync(FaultWorld.StartTimeout);

            await world.AssertDeployedOnceAsync(model, runId, Bound);
            // One decision, recorded as alice's (the restarted owner does not record the redelivered command again).
            var decisions = await world.Services.GetRequiredService<IApprovalRepository>().ListByRunAsync(runId);
            Assert.Equal("alice", Assert.Single(decisions).DecidedBy);
        }
        finally
        {
            await owner.EnsureRunningAsync(FaultWorld.StartTimeout);
            await world.Gate.KillAsync();
            await world.Gate.StartAsync(FaultWorld.StartTimeout);
        }
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
