using System.Text;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.AdaptationRuns;
using Pipeline.Contracts;
using Pipeline.Deployment;
using Pipeline.DriftDetection;
using Pipeline.Storage.Repositories;
using RabbitMQ.Client;

namespace Pipeline.Integration.Tests;

/// <summary>
/// Forged commands, each refused with the reason in the error queue, attributed to the
/// sender the broker validated (the audit), and without effect. mallory is an operator here, not an
/// approver; alice is an approver.
/// </summary>
public class ForgedCommandTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private static readonly Dictionary<string, string?> Roles = new() { ["Roles:Operators:0"] = "mallory" };

    private static string Queue<TConsumer>(ServiceHosts hosts)
        where TConsumer : class, IConsumer =>
        new KebabCaseEndpointNameFormatter(hosts.Prefix, includeNamespace: true).Consumer<TConsumer>();

    private static async Task<(string Reason, string? User)> RefusalAsync(string queue)
    {
        await using var connection = await Broker.ConnectAsync();
        var refused = await Broker.GetAsync(connection, queue + "_error", Wait);
        Assert.NotNull(refused);
        return (Encoding.UTF8.GetString((byte[])refused.BasicProperties.Headers!["MT-Fault-Message"]!), refused.BasicProperties.UserId);
    }

    [Fact]
    public async Task An_operator_cannot_roll_back_to_a_version_that_never_served_but_an_approver_can_with_a_reason()
    {
        await using var hosts = new ServiceHosts("forged-rollback");
        var events = new EventLogModule();
        var deployment = await hosts.StartAsync([new DeploymentModule()], Roles);
        await hosts.StartAsync([events]);
        await Seed.BaseModelAsync(deployment.Services, "rb-never");
        // v2: a candidate that was never deployed (say, rejected by the gate).
        await Seed.ExtraVersionAsync(deployment.Services, "rb-never", 2);

        await Operators.SendAsync("mallory", new RollbackModel { ModelId = "rb-never", ToVersion = 2, Reason = "trust me" });

        var (reason, user) = await RefusalAsync(Queue<RollbackModelConsumer>(hosts));
        Assert.Contains("never served production", reason, StringComparison.Ordinal);
        Assert.Equal("mallory", user);
        var registry = deployment.Services.GetRequiredService<IModelRegistry>();
        Assert.Equal(1, (await registry.GetProductionAsync("rb-never"))!.Version);

        await Operators.SendAsync("alice", new RollbackModel { ModelId = "rb-never", ToVersion = 2, Reason = "v2 fixes the outage, checked by hand" });
        var rolled = await events.Log.WaitAsync<ModelRolledBack>(r => r.ModelId == "rb-never", Wait);
        Assert.Equal(2, rolled.Version);
        Assert.Equal("alice", rolled.By);
        var audit = Assert.Single(await deployment.Services.GetRequiredService<IDeploymentRepository>().ListByModelAsync("rb-never"));
        Assert.Equal("v2 fixes the outage, checked by hand", audit.Reason);
    }

    [Fact]
    public async Task A_version_rolled_back_as_bad_needs_an_approver()
    {
        await using var hosts = new ServiceHosts("forged-bad");
        var events = new EventLogModule();
        var deployment = await hosts.StartAsync([new DeploymentModule()], Roles);
        await hosts.StartAsync([events]);
        await Seed.TwoProductionVersionsAsync(deployment.Services, "rb-bad");

        await Operators.SendAsync("mallory", new RollbackModel { ModelId = "rb-bad", Reason = "v2 is bad" });
        await events.Log.WaitAsync<ModelRolledBack>(r => r.ModelId == "rb-bad", Wait);
        await Operators.SendAsync("mallory", new RollbackModel { ModelId = "rb-bad", ToVersion = 2, Reason = "back to v2" });

        var (reason, user) = await RefusalAsync(Queue<RollbackModelConsumer>(hosts));
        Assert.Contains("was rolled back as bad", reason, StringComparison.Ordinal);
        Assert.Equal("mallory", user);
        Assert.Equal(1, (await deployment.Services.GetRequiredService<IModelRegistry>().GetProductionAsync("rb-bad"))!.Version);
    }

    /// <summary>
    /// Service users are impersonators (they move a refused command to an error queue with its
    /// user_id), and may write their own queues' exchanges. Deployment's credential puts alice's user_id on a
    /// RollbackModel written straight to its own command queue: the broker lets it through, the service does not
    /// take it as alice's (only a command published to its command exchange, which services may not write, is).
    /// </summary>
    [Fact]
    public async Task A_service_credential_cannot_give_a_command_recorded_as_an_operators()
    {
        await using var hosts = new ServiceHosts("forged-service");
        var deployment = await hosts.StartAsync([new DeploymentModule()], Roles);
        await Seed.TwoProductionVersionsAsync(deployment.Services, "svc-forge");
        var queue = Queue<RollbackModelConsumer>(hosts);
        var body = """{"modelId":"svc-forge","reason":"forged by a service"}"""u8.ToArray();
        var props = new BasicProperties { ContentType = "application/json", UserId = "alice", DeliveryMode = DeliveryModes.Persistent };

        await using var connection = await Broker.ConnectAsync("deployment", Faults.BrokerUsers.TestPassword("deployment"));
        await using (var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true)))
        {
            await channel.BasicPublishAsync(queue, "", false, props, body);
        }

        var (reason, user) = await RefusalAsync(queue);
        Assert.Contains("the sender is unknown", reason, StringComparison.Ordinal);
        Assert.Equal("alice", user);
        Assert.Equal(2, (await deployment.Services.GetRequiredService<IModelRegistry>().GetProductionAsync("svc-forge"))!.Version);
        Assert.Empty(await deployment.Services.GetRequiredService<IDeploymentRepository>().ListByModelAsync("svc-forge"));

        // The command exchange itself is closed to it (403).
        var command = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
        await Assert.ThrowsAnyAsync<Exception>(async () => await command.BasicPublishAsync("Pipeline.Contracts:RollbackModel", "", false, props, body));
        for (var i = 0; i < 50 && command.IsOpen; i++)
        {
            await Task.Delay(100);
        }

        Assert.Equal((ushort)403, command.CloseReason?.ReplyCode);
    }

    [Fact]
    public async Task A_user_without_a_role_cannot_start_an_adaptation()
    {
        await using var hosts = new ServiceHosts("forged-start");
        var owner = await hosts.StartAsync([new AdaptationRunsModule()]);
        await Seed.TwoProductionVersionsAsync(owner.Services, "no-role");

        await Operators.SendAsync("mallory", new StartAdaptation { ModelId = "no-role", Reason = "why not" });

        var (reason, user) = await RefusalAsync(Queue<StartAdaptationConsumer>(hosts));
        Assert.Contains("does not have the operator role", reason, StringComparison.Ordinal);
        Assert.Equal("mallory", user);
        Assert.Empty(await owner.Services.GetRequiredService<IAdaptationRunRepository>().ListByModelAsync("no-role"));
    }

    [Fact]
    public async Task Pausing_an_unknown_model_is_refused_and_creates_no_row()
    {
        await using var hosts = new ServiceHosts("forged-pause");
        var drift = await hosts.StartAsync([new DriftDetectionModule()]);

        await Operators.SendAsync("alice", new PauseAdaptation { ModelId = "no-such-model", Reason = "maintenance" });

        var (reason, _) = await RefusalAsync(Queue<PauseAdaptationConsumer>(hosts));
        Assert.Contains("model no-such-model is unknown", reason, StringComparison.Ordinal);
        Assert.Null(await drift.Services.GetRequiredService<IAdaptationPauseRepository>().GetAsync("no-such-model"));
        Assert.Null(await drift.Services.GetRequiredService<IModelRegistry>().GetModelAsync("no-such-model"));
    }

    [Fact]
    public async Task Enums_in_a_raw_json_event_are_read_by_name()
    {
        await using var hosts = new ServiceHosts("enum-names");
        var events = new EventLogModule();
        var owner = await hosts.StartAsync([new AdaptationRunsModule()]);
        await hosts.StartAsync([events]);
        await Seed.TwoProductionVersionsAsync(owner.Services, "enum-model");
        var runId = Guid.NewGuid();

        await using (var connection = await Broker.ConnectAsync())
        await using (var channel = await connection.CreateChannelAsync())
        {
            var body = Encoding.UTF8.GetBytes(
                $$"""{"runId":"{{runId}}","modelId":"enum-model","modelVersion":2,"windowId":"w1","severity":"High","datasetDriftScore":0.9}""");
            await channel.BasicPublishAsync("Pipeline.Contracts:DriftDetected", "", false,
                new BasicProperties { ContentType = "application/json", DeliveryMode = DeliveryModes.Persistent }, body);
        }

        var started = await events.Log.WaitAsync<AdaptationRunStarted>(s => s.RunId == runId, Wait);
        Assert.Equal(2, started.BaseVersion);
        Assert.Equal(RunState.Scoring, (await owner.Services.GetRequiredService<IAdaptationRunRepository>().GetAsync(runId))!.State);
    }
}
