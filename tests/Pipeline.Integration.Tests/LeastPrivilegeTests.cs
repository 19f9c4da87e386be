using MassTransit;
using System.Diagnostics;
using System.Text;
using Pipeline.Integration.Tests.Faults;
using RabbitMQ.Client;

namespace Pipeline.Integration.Tests;

/// <summary>
/// The broker's permissions (infra/rabbitmq/permissions.sh) on a virtual host of this test's own:
/// an operator can write commands and nothing else, a service only what it publishes; the forged
/// events are refused by the broker itself (403 ACCESS_REFUSED). The fault tests run
/// every service under these users, which proves the permissions are enough to work.
/// </summary>
public sealed class LeastPrivilegeTests(LeastPrivilegeVhost broker) : IClassFixture<LeastPrivilegeVhost>
{
    private string vhost => broker.Name;

    private Dictionary<string, string> passwords => broker.Passwords;

    [Theory]
    [InlineData("CandidateApproved")]
    [InlineData("ModelRolledBack")]
    [InlineData("ModelDeployed")]
    [InlineData("DeployCandidate")]
    public async Task An_operator_cannot_publish_events_or_stage_work(string type) =>
        Assert.Equal(403, await PublishAsync("mallory", "mallory", type));

    [Fact]
    public async Task An_operator_can_publish_a_command_whose_role_check_is_the_services()
    {
        Assert.Equal(0, await PublishAsync("mallory", "mallory", "RollbackModel"));
    }

    [Fact]
    public async Task A_service_writes_what_it_publishes_and_nothing_else()
    {
        Assert.Equal(0, await PublishAsync("deployment", passwords["deployment"], "ModelDeployed"));
        Assert.Equal(403, await PublishAsync("deployment", passwords["deployment"], "DeployCandidate"));
        Assert.Equal(403, await PublishAsync("evaluation-gate", passwords["evaluation-gate"], "CandidateApproved"));
        Assert.Equal(0, await PublishAsync("adaptation-runs", passwords["adaptation-runs"], "DeployCandidate"));
    }

    [Fact]
    public async Task An_operator_can_ask_about_runs_and_watch_run_events_on_a_temporary_queue()
    {
        Assert.Equal(0, await PublishAsync("mallory", "mallory", "GetRun"));
        var runId = Guid.NewGuid();
        var seen = new TaskCompletionSource<Contracts.TuningProgress>(TaskCreationOptions.RunContinuationsAsynchronously);
        await Cli.Commands.OperatorClient.WatchAsync(
            new Cli.Commands.BrokerSettings(Broker.Host, Broker.Port, vhost, "mallory", "mallory"),
            e =>
            {
                e.Handler<Contracts.TuningProgress>(c =>
                {
                    seen.TrySetResult(c.Message);
                    return Task.CompletedTask;
                });
                e.Handler<Contracts.AdaptationRunFinished>(_ => Task.CompletedTask);
            },
            CancellationToken.None,
            async _ =>
            {
                // The event as a service publishes it (a MassTransit envelope), after the watch bound its queue.
                await using var connection = await ConnectAsync("guest", "guest");
                await using var channel = await connection.CreateChannelAsync();
                var envelope = $$$"""
                    {"messageId":"{{{Guid.NewGuid()}}}","messageType":["urn:message:Pipeline.Contracts:TuningProgress"],
                     "message":{"runId":"{{{runId}}}","modelId":"watched","step":1,"totalSteps":2,"loss":0.5,"updatedFraction":0.1}}
                    """;
                await channel.BasicPublishAsync("Pipeline.Contracts:TuningProgress", "", false,
                    new BasicProperties { ContentType = "application/vnd.masstransit+json" }, Encoding.UTF8.GetBytes(envelope));
                Assert.Equal(runId, (await seen.Task.WaitAsync(TimeSpan.FromSeconds(20))).RunId);
            });
    }

    [Fact]
    public async Task Pipelinectl_publishes_a_command_without_declaring_its_exchange()
    {
        var mallory = new Cli.Commands.BrokerSettings(Broker.Host, Broker.Port, vhost, "mallory", "mallory");
        await using (var admin = await ConnectAsync("guest", "guest"))
        await using (var channel = await admin.CreateChannelAsync())
        {
            // A queue as the consuming service binds it, so the command is routed (the client publishes mandatory).
            await channel.QueueDeclareAsync("least-privilege-rollback", durable: false, exclusive: false, autoDelete: false);
            await channel.QueueBindAsync("least-privilege-rollback", "Pipeline.Contracts:RollbackModel", "");
        }

        var command = new Contracts.RollbackModel { ModelId = "watched", Reason = "least privilege" };
        await Cli.Commands.OperatorClient.PublishAsync(mallory, command, CancellationToken.None);
        await using (var admin = await ConnectAsync("guest", "guest"))
        await using (var channel = await admin.CreateChannelAsync())
        {
            var delivered = await channel.BasicGetAsync("least-privilege-rollback", autoAck: true);
            Assert.NotNull(delivered);
            Assert.Equal("mallory", delivered.BasicProperties.UserId);
            Assert.Contains("urn:message:Pipeline.Contracts:RollbackModel", Encoding.UTF8.GetString(delivered.Body.Span), StringComparison.Ordinal);
        }

        // No service has declared PauseAdaptation on this virtual host, and the operator may not: one clear error.
        var missing = await Assert.ThrowsAsync<Cli.Commands.OperatorException>(
            () => Cli.Commands.OperatorClient.PublishAsync(mallory, new Contracts.PauseAdaptation { ModelId = "watched", Reason = "least privilege" }, CancellationToken.None));
        Assert.Contains("Pipeline.Contracts:PauseAdaptation does not exist", missing.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ModelDeployed")]
    [InlineData("TuningProgress")]
    [InlineData("RollbackModel")]
    [InlineData("GetRun")]
    public async Task An_operator_cannot_delete_or_redeclare_a_shared_exchange(string type)
    {
        var exchange = $"Pipeline.Contracts:{type}";
        await using var connection = await ConnectAsync("mallory", "mallory");
        var deleter = await connection.CreateChannelAsync();
        var deleted = await Assert.ThrowsAsync<RabbitMQ.Client.Exceptions.OperationInterruptedException>(() => deleter.ExchangeDeleteAsync(exchange));
        Assert.Equal((ushort)403, deleted.ShutdownReason?.ReplyCode);
        var declarer = await connection.CreateChannelAsync();
        var declared = await Assert.ThrowsAsync<RabbitMQ.Client.Exceptions.OperationInterruptedException>(
            () => declarer.ExchangeDeclareAsync(exchange, ExchangeType.Direct, durable: true));
        Assert.Equal((ushort)403, declared.ShutdownReason?.ReplyCode);

        // Still there and still fanout: declaring it as the services do succeeds (a changed type would be refused).
        await using var admin = await ConnectAsync("guest", "guest");
        await using var check = await admin.CreateChannelAsync();
        await check.ExchangeDeclareAsync(exchange, ExchangeType.Fanout, durable: true);
    }

    [Fact]
    public async Task An_operator_cannot_read_a_services_queue()
    {
        await using (var admin = await ConnectAsync("guest", "guest"))
        await using (var channel = await admin.CreateChannelAsync())
        {
            await channel.QueueDeclareAsync("pipeline-deployment-deploy-candidate", durable: true, exclusive: false, autoDelete: false);
        }

        await using var connection = await ConnectAsync("mallory", "mallory");
        var reader = await connection.CreateChannelAsync();
        var refused = await Assert.ThrowsAsync<RabbitMQ.Client.Exceptions.OperationInterruptedException>(
            () => reader.BasicGetAsync("pipeline-deployment-deploy-candidate", autoAck: true));
        Assert.Equal((ushort)403, refused.ShutdownReason?.ReplyCode);
    }

    [Fact]
    public async Task Service_users_have_no_management_tag()
    {
        var users = await LeastPrivilegeVhost.CtlAsync("list_users");
        foreach (var user in BrokerUsers.ServiceUser.Values)
        {
            var line = users.Split('\n').Single(l => l.StartsWith(user + "\t", StringComparison.Ordinal));
            Assert.DoesNotContain("administrator", line, StringComparison.Ordinal);
            Assert.DoesNotContain("management", line, StringComparison.Ordinal);
            Assert.DoesNotContain("monitoring", line, StringComparison.Ordinal);
        }
    }

    /// <summary>0 when the broker took the message (confirmed), else the AMQP code that closed the channel.</summary>
    private async Task<int> PublishAsync(string user, string password, string type)
    {
        await using var connection = await ConnectAsync(user, password);
        var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await channel.BasicPublishAsync($"Pipeline.Contracts:{type}", "", false, new BasicProperties { UserId = user }, Encoding.UTF8.GetBytes("{}"), timeout.Token);
            return 0;
        }
        catch (Exception ex) when (ex is RabbitMQ.Client.Exceptions.OperationInterruptedException or RabbitMQ.Client.Exceptions.AlreadyClosedException
                                       or RabbitMQ.Client.Exceptions.PublishException)
        {
            for (var i = 0; i < 50 && channel.IsOpen; i++)
            {
                await Task.Delay(50);
            }

            return channel.CloseReason?.ReplyCode ?? -1;
        }
        finally
        {
            await channel.DisposeAsync();
        }
    }

    private Task<IConnection> ConnectAsync(string user, string password) => LeastPrivilegeVhost.ConnectAsync(vhost, user, password);
}

/// <summary>A virtual host of the tests' own with the users and permissions of permissions.sh (mallory as operator).</summary>
public sealed class LeastPrivilegeVhost : IAsyncLifetime
{
    private static readonly string Node = Environment.GetEnvironmentVariable("RABBITMQ_NODENAME") ?? "rabbit@localhost";

    public string Name { get; } = $"least-privilege-{Guid.NewGuid():N}"[..28];

    public Dictionary<string, string> Passwords { get; private set; } = [];

    public async Task InitializeAsync()
    {
        await CtlAsync("add_vhost", Name);
        await CtlAsync("set_permissions", "-p", Name, "guest", ".*", ".*", ".*");
        Passwords = await BrokerUsers.ApplyAsync(Node, Name, "mallory");

        // The exchanges exist (as they would once the services ran), so a refusal is about rights.
        await using var connection = await ConnectAsync(Name, "guest", "guest");
        await using var channel = await connection.CreateChannelAsync();
        foreach (var type in new[] { "CandidateApproved", "ModelRolledBack", "ModelDeployed", "DeployCandidate", "RollbackModel", "GetRun", "TuningProgress", "AdaptationRunFinished" })
        {
            await channel.ExchangeDeclareAsync($"Pipeline.Contracts:{type}", ExchangeType.Fanout, durable: true);
        }
    }

    public Task DisposeAsync() => CtlAsync("delete_vhost", Name);

    public static Task<IConnection> ConnectAsync(string vhost, string user, string password) =>
        new ConnectionFactory { HostName = Broker.Host, Port = Broker.Port, VirtualHost = vhost, UserName = user, Password = password }
            .CreateConnectionAsync();

    public static async Task<string> CtlAsync(params string[] args)
    {
        var info = new ProcessStartInfo("rabbitmqctl") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "-n", Node, "-q" }.Concat(args))
        {
            info.ArgumentList.Add(a);
        }

        using var p = Process.Start(info)!;
        var output = await p.StandardOutput.ReadToEndAsync();
        await p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        return output;
    }
}
