using Pipeline.Contracts;
using Pipeline.Storage.Repositories;

namespace Pipeline.Integration.Tests;

/// <summary>Drift to deployment with nobody involved, rollback, and duplicate suppression, across separate hosts.</summary>
public class AutoModeFlowTests(AutoWorld world) : IClassFixture<AutoWorld>
{
    private static readonly TimeSpan Stage = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Drift_in_production_traffic_ends_with_the_candidate_in_production_and_nobody_involved()
    {
        const string model = "auto-model";
        await world.SeedBaseAsync(model);

        await world.IngestAsync(model, 1, Synthetic.Rows(300, seed: 10, shifted: true));

        var detected = await world.Events.WaitAsync<DriftDetected>(d => d.ModelId == model, Stage);
        var scored = await world.Events.WaitAsync<SensitivityScored>(s => s.RunId == detected.RunId, Stage);
        Assert.InRange(scored.SelectedFraction, 1e-6, 0.05);
        var trained = await world.Events.WaitAsync<CandidateTrained>(c => c.RunId == detected.RunId, Stage);
        Assert.Equal(2, trained.CandidateVersion);
        Assert.Equal(new SparseTuning.TuningServiceOptions().Strategy, trained.Strategy); // one candidate: the tuner's own Tuning:Strategy
        Assert.Contains(world.Events.All.OfType<TuningProgress>(), p => p.RunId == detected.RunId);
        var evaluated = await world.Events.WaitAsync<CandidateEvaluated>(e => e.RunId == detected.RunId, Stage);
        Assert.Equal(GateDecision.Approve, evaluated.Decision);
        var approved = await world.Events.WaitAsync<CandidateApproved>(a => a.RunId == detected.RunId, Stage);
        Assert.Equal(Contracts.ApprovalMode.Auto, approved.Mode);
        var deployed = await world.Events.WaitAsync<ModelDeployed>(d => d.RunId == detected.RunId, Stage);
        Assert.Equal(2, deployed.Version);
        Assert.Equal(1, deployed.PreviousVersion);
        var finished = await world.Events.WaitAsync<AdaptationRunFinished>(f => f.RunId == detected.RunId, Stage);
        Assert.Equal(RunOutcome.Deployed, finished.Outcome);

        Assert.Equal(2, (await world.Get<IModelRegistry>().GetProductionAsync(model))!.Version);
        var run = await world.Get<IAdaptationRunRepository>().GetAsync(detected.RunId);
        Assert.Equal(RunState.Deployed, run!.State);
        var history = await world.Get<IAdaptationRunRepository>().GetHistoryAsync(detected.RunId);
        Assert.Equal(
            [RunState.Detected, RunState.Scoring, RunState.Tuning, RunState.Evaluating, RunState.Deploying, RunState.Deployed],
            history.Select(h => h.ToState).ToArray());
        Assert.NotEmpty(await world.Get<IDriftRepository>().ListReportsAsync(model));

        // One run, one trace: the spans of the services that handled this run's work share a trace id.
        // A consume span is exported when its handler returns, which can be after the events it published
        // were seen here (deployment's span ends after ModelDeployed is out): give the last ones a moment.
        var expected = new[] { "drift-detection", "adaptation-runs", "sensitivity-scoring", "sparse-tuning", "evaluation-gate", "deployment" };
        var services = RunTrace(world, consumedBy: "pipeline-sparse-tuning-");
        for (var deadline = DateTime.UtcNow.AddSeconds(10); !services.IsSupersetOf(expected) && DateTime.UtcNow < deadline;)
        {
            await Task.Delay(100);
            services = RunTrace(world, consumedBy: "pipeline-sparse-tuning-");
        }

        foreach (var service in expected)
        {
            Assert.Contains(service, services);
        }
    }

    /// <summary>Services (by queue name) with a consume span in the trace of the first span consumed from <paramref name="consumedBy"/>.</summary>
    private static HashSet<string> RunTrace(PipelineWorld world, string consumedBy)
    {
        // List.ToArray copies without a version check: safe while the exporter may still append.
        var spans = world.Spans.ToArray();

        static string? Queue(System.Diagnostics.Activity a) =>
            a.Kind == System.Diagnostics.ActivityKind.Consumer ? a.GetTagItem("messaging.destination.name") as string : null;
        var anchor = spans.First(a => Queue(a)?.Contains(consumedBy, StringComparison.Ordinal) == true);
        var names = new[] { "drift-detection", "adaptation-runs", "sensitivity-scoring", "sparse-tuning", "evaluation-gate", "deployment" };
        return spans.Where(a => a.TraceId == anchor.TraceId && Queue(a) is not null)
            .SelectMany(a => names.Where(n => Queue(a)!.Contains($"pipeline-{n}-", StringComparison.Ordinal)))
            .ToHashSet();
    }

    [Fact]
    public async Task Rollback_returns_production_to_the_previous_version()
    {
        const string model = "rollback-model";
        await Seed.TwoProductionVersionsAsync(world.Services, model);

        await Operators.SendAsync("alice", new RollbackModel { ModelId = model, Reason = "v2 regressed" });

        var rolledBack = await world.Events.WaitAsync<ModelRolledBack>(r => r.ModelId == model, Stage);
        Assert.Equal(1, rolledBack.Version);
        Assert.Equal(2, rolledBack.PreviousVersion);
        Assert.Equal(1, (await world.Get<IModelRegistry>().GetProductionAsync(model))!.Version);
        var deployments = await world.Get<IDeploymentRepository>().ListByModelAsync(model);
        Assert.Contains(deployments, d => d.Kind == DeploymentKind.Rollback && d.Version == 1 && d.DeployedBy == "alice");
    }

    [Fact]
    public async Task A_duplicate_DriftDetected_does_not_start_a_second_run()
    {
        const string model = "duplicate-model";
        await world.SeedBaseAsync(model);
        var first = new DriftDetected
        {
            RunId = Guid.NewGuid(), ModelId = model, ModelVersion = 1, WindowId = "w1", Severity = DriftSeverity.High, DatasetDriftScore = 0.9,
        };
        var bus = world.Publisher;
        await bus.Publish(first);
        await bus.Publish(first);
        await bus.Publish(first with { RunId = Guid.NewGuid(), WindowId = "w2" });
        await world.IngestAsync(model, 1, Synthetic.Rows(200, seed: 20, shifted: true));

        await world.Events.WaitAsync<CandidateTrained>(c => c.RunId == first.RunId, Stage);
        var runs = await world.Get<IAdaptationRunRepository>().ListByModelAsync(model);
        Assert.Equal(first.RunId, Assert.Single(runs).RunId);
        Assert.Single(world.Events.All.OfType<SensitivityScored>(), s => s.ModelId == model);
        Assert.Single(world.Events.All.OfType<CandidateTrained>(), c => c.ModelId == model);
    }
}

/// <summary>A person in the loop: approve, reject, and an approval nobody answers.</summary>
public class ManualModeFlowTests(ManualWorld world) : IClassFixture<ManualWorld>
{
    private static readonly TimeSpan Stage = TimeSpan.FromSeconds(90);

    private async Task<ApprovalRequested> RunToApprovalAsync(string model)
    {
        await world.SeedBaseAsync(model);
        await world.IngestAsync(model, 1, Synthetic.Rows(300, seed: 30, shifted: true));
        var detected = await world.Events.WaitAsync<DriftDetected>(d => d.ModelId == model, Stage);
        var request = await world.Events.WaitAsync<ApprovalRequested>(a => a.RunId == detected.RunId, Stage);
        Assert.Contains(request.Reasons, r => r.Contains("manual mode", StringComparison.Ordinal));
        return request;
    }

    [Fact]
    public async Task An_allowed_operator_approves_and_the_candidate_is_deployed_with_the_approver_audited()
    {
        var request = await RunToApprovalAsync("approve-model");

        // mallory can reach the broker but is not an approver: refused, run still waiting.
        // The refusal is in the error queue with the reason, still attributed to mallory.
        await Operators.SendAsync("mallory", new ApproveCandidate { RunId = request.RunId, Reason = "trust me" });
        await using (var connection = await Broker.ConnectAsync())
        {
            var refused = await Broker.GetAsync(connection, world.Queue<AdaptationRuns.ApproveCandidateConsumer>() + "_error", TimeSpan.FromSeconds(30));
            Assert.NotNull(refused);
            Assert.Contains("approver role", System.Text.Encoding.UTF8.GetString((byte[])refused.BasicProperties.Headers!["MT-Fault-Message"]!), StringComparison.Ordinal);
            Assert.Equal("mallory", refused.BasicProperties.UserId);
        }

        Assert.Equal(RunState.AwaitingApproval, (await world.Get<IAdaptationRunRepository>().GetAsync(request.RunId))!.State);

        await Operators.SendAsync("alice", new ApproveCandidate { RunId = request.RunId, Reason = "shifted accuracy is what we need" });
        var deployed = await world.Events.WaitAsync<ModelDeployed>(d => d.RunId == request.RunId, Stage);
        Assert.Equal(request.CandidateVersion, deployed.Version);
        Assert.Equal("alice", deployed.By);
        var approvals = await world.Get<IApprovalRepository>().ListByRunAsync(request.RunId);
        var approval = Assert.Single(approvals);
        Assert.Equal(ApprovalDecision.Approve, approval.Decision);
        Assert.Equal("alice", approval.DecidedBy);
        Assert.Equal(Storage.Repositories.ApprovalSource.Manual, approval.Mode);
    }

    [Fact]
    public async Task An_operator_rejects_and_production_keeps_the_base_version()
    {
        var request = await RunToApprovalAsync("reject-model");

        await Operators.SendAsync("alice", new RejectCandidate { RunId = request.RunId, Reason = "not convinced" });

        var rejected = await world.Events.WaitAsync<CandidateRejected>(r => r.RunId == request.RunId, Stage);
        Assert.Equal(Contracts.ApprovalMode.Manual, rejected.Mode);
        Assert.Equal("alice", rejected.By);
        Assert.Equal(RunState.Rejected, (await world.Get<IAdaptationRunRepository>().GetAsync(request.RunId))!.State);
        Assert.Equal(1, (await world.Get<IModelRegistry>().GetProductionAsync("reject-model"))!.Version);
    }

    [Fact]
    public async Task An_approval_nobody_answers_expires_into_a_rejection()
    {
        var request = await RunToApprovalAsync("expiry-model");

        var rejected = await world.Events.WaitAsync<CandidateRejected>(r => r.RunId == request.RunId, ManualWorld.ApprovalTimeout + Stage);
        Assert.Equal(Contracts.ApprovalMode.Expired, rejected.Mode);
        Assert.Contains("expired", rejected.Reasons.Single(), StringComparison.Ordinal);
        var approval = Assert.Single(await world.Get<IApprovalRepository>().ListByRunAsync(request.RunId));
        Assert.Equal(ApprovalDecision.Expired, approval.Decision);
        Assert.Equal(1, (await world.Get<IModelRegistry>().GetProductionAsync("expiry-model"))!.Version);
    }
}
