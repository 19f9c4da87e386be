using System.Text;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.AdaptationRuns;
using Pipeline.Contracts;
using Pipeline.Deployment;
using Pipeline.SensitivityScoring;
using Pipeline.Storage.Artifacts;
using Pipeline.Storage.Repositories;

namespace Pipeline.Integration.Tests;

/// <summary>Runs that cannot go on end as Failed with the stage and a clear reason; bad artifacts are refused.</summary>
public class StageFailureTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_run_without_enough_labelled_rows_waits_for_them_then_fails_with_the_reason()
    {
        await using var hosts = new ServiceHosts("labels");
        var events = new EventLogModule();
        var owner = await hosts.StartAsync([new AdaptationRunsModule()]);
        await hosts.StartAsync([new SensitivityScoringModule()], new Dictionary<string, string?>
        {
            ["Scoring:MinLabelledRows"] = "500", ["Scoring:LabelWaitTimeout"] = "00:00:02", ["Scoring:LabelPollInterval"] = "00:00:00.200",
        });
        await hosts.StartAsync([events]);
        await Seed.BaseModelAsync(owner.Services, "few-labels");
        var runId = Guid.NewGuid();

        await (await hosts.PublisherAsync()).Publish(new DriftDetected
        {
            RunId = runId, ModelId = "few-labels", ModelVersion = 1, WindowId = "w1", Severity = DriftSeverity.High, DatasetDriftScore = 0.8,
        });

        var failed = await events.Log.WaitAsync<AdaptationRunFailed>(f => f.RunId == runId, Wait);
        Assert.Equal("score", failed.Stage);
        Assert.Contains("not enough labelled rows: 0 of 500", failed.Reason, StringComparison.Ordinal);
        var finished = await events.Log.WaitAsync<AdaptationRunFinished>(f => f.RunId == runId, Wait);
        Assert.Equal(RunOutcome.Failed, finished.Outcome);
        var run = await owner.Services.GetRequiredService<IAdaptationRunRepository>().GetAsync(runId);
        Assert.Equal(RunState.Failed, run!.State);
        Assert.Equal("score", run.FailureStage);
    }

    [Fact]
    public async Task Deployment_refuses_a_version_whose_artifact_no_longer_matches_the_registry()
    {
        await using var hosts = new ServiceHosts("tamper");
        var deployment = await hosts.StartAsync([new DeploymentModule()]);
        await Seed.TwoProductionVersionsAsync(deployment.Services, "tampered");
        var v1 = await deployment.Services.GetRequiredService<IModelRegistry>().GetVersionAsync("tampered", 1);
        var path = ((FileSystemArtifactStore)deployment.Services.GetRequiredService<IArtifactStore>()).GetLocalPath(v1!.ArtifactUri);
        var bytes = await File.ReadAllBytesAsync(path);
        bytes[^1] ^= 0xFF;
        await File.WriteAllBytesAsync(path, bytes);

        await Operators.SendAsync("alice", new RollbackModel { ModelId = "tampered", Reason = "go back" });

        await using var connection = await Broker.ConnectAsync();
        var queue = new KebabCaseEndpointNameFormatter(hosts.Prefix, includeNamespace: true).Consumer<RollbackModelConsumer>();
        var refused = await Broker.GetAsync(connection, queue + "_error", Wait);
        Assert.NotNull(refused);
        var reason = Encoding.UTF8.GetString((byte[])refused.BasicProperties.Headers!["MT-Fault-Message"]!);
        Assert.Contains("rollback refused", reason, StringComparison.Ordinal);
        Assert.Contains("SHA-256", reason, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(2, (await deployment.Services.GetRequiredService<IModelRegistry>().GetProductionAsync("tampered"))!.Version);
    }

    [Fact]
    public async Task Work_nobody_does_is_sent_again_then_the_run_fails_with_the_reason_after_its_attempts()
    {
        await using var hosts = new ServiceHosts("no-worker");
        var events = new EventLogModule();
        var owner = await hosts.StartAsync([new AdaptationRunsModule()], new Dictionary<string, string?>
        {
            ["Runs:ExpectedDuration:Scoring"] = "00:00:01", ["Runs:NoProgressFactor"] = "1", ["Runs:MaxAttempts"] = "2",
        });
        await hosts.StartAsync([events]);
        await Seed.TwoProductionVersionsAsync(owner.Services, "stuck");

        // No scoring service runs here: the work is never done.
        await Operators.SendAsync("alice", new StartAdaptation { ModelId = "stuck", Reason = "try it" });

        var failed = await events.Log.WaitAsync<AdaptationRunFailed>(f => f.ModelId == "stuck", Wait);
        Assert.Equal("score", failed.Stage);
        Assert.Contains("no progress in Scoring", failed.Reason, StringComparison.Ordinal);
        Assert.Contains("2 attempt(s)", failed.Reason, StringComparison.Ordinal);
        var sent = events.Log.All.OfType<ScoreSensitivity>().Where(w => w.RunId == failed.RunId).Select(w => w.Attempt).Order().ToArray();
        Assert.Equal([1, 2], sent);
        Assert.All(events.Log.All.OfType<ScoreSensitivity>(), w => Assert.Equal(2, w.BaseVersion));
        var finished = await events.Log.WaitAsync<AdaptationRunFinished>(f => f.RunId == failed.RunId, Wait);
        Assert.Equal(RunOutcome.Failed, finished.Outcome);
        Assert.Null(await owner.Services.GetRequiredService<IAdaptationRunRepository>().GetActiveRunAsync("stuck"));
    }
}
