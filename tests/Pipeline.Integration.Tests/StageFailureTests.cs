using System.Text;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
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
        var scoring = await hosts.StartAsync([new SensitivityScoringModule()], new Dictionary<string, string?>
        {
            ["Scoring:MinLabelledRows"] = "500", ["Scoring:LabelWaitTimeout"] = "00:00:02", ["Scoring:LabelPollInterval"] = "00:00:00.200",
        });
        await hosts.StartAsync([events]);
        await Seed.BaseModelAsync(scoring.Services, "few-labels");
        var runId = Guid.NewGuid();

        await scoring.Services.GetRequiredService<IBus>().Publish(new DriftDetected
        {
            RunId = runId, ModelId = "few-labels", ModelVersion = 1, WindowId = "w1", Severity = DriftSeverity.High, DatasetDriftScore = 0.8,
        });

        var failed = await events.Log.WaitAsync<AdaptationRunFailed>(f => f.RunId == runId, Wait);
        Assert.Equal("score", failed.Stage);
        Assert.Contains("not enough labelled rows: 0 of 500", failed.Reason, StringComparison.Ordinal);
        var run = await scoring.Services.GetRequiredService<IAdaptationRunRepository>().GetAsync(runId);
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
    public async Task The_watchdog_fails_a_run_that_stays_in_a_stage_past_its_timeout()
    {
        await using var hosts = new ServiceHosts("watchdog");
        var events = new EventLogModule();
        var deployment = await hosts.StartAsync([new DeploymentModule()], new Dictionary<string, string?>
        {
            ["Deployment:StageTimeouts:Detected"] = "00:00:01", ["Deployment:WatchdogInterval"] = "00:00:00.200",
        });
        await hosts.StartAsync([events]);
        await Seed.TwoProductionVersionsAsync(deployment.Services, "stuck");
        var runId = Guid.NewGuid();
        Assert.True(await deployment.Services.GetRequiredService<IAdaptationRunRepository>().TryStartRunAsync(
            new NewAdaptationRun { RunId = runId, ModelId = "stuck", BaseVersion = 2 }));

        // Nobody scores it (no scoring service here): it stays Detected.
        var failed = await events.Log.WaitAsync<AdaptationRunFailed>(f => f.RunId == runId, Wait);
        Assert.Equal("detected", failed.Stage);
        Assert.Contains("timed out", failed.Reason, StringComparison.Ordinal);
        Assert.Null(await deployment.Services.GetRequiredService<IAdaptationRunRepository>().GetActiveRunAsync("stuck"));
    }
}
