using System.Text;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Contracts;
using Pipeline.Deployment;
using Pipeline.DriftDetection;
using Pipeline.Storage.Repositories;

namespace Pipeline.Integration.Tests;

/// <summary>The platform on a real RabbitMQ: delivery between hosts, validation to the error queue, retry then fault.</summary>
public class PlatformMessagingTests
{
    private static string Queue<TConsumer>(ServiceHosts hosts)
        where TConsumer : class, IConsumer =>
        new KebabCaseEndpointNameFormatter(hosts.Prefix, includeNamespace: true).Consumer<TConsumer>();

    [Fact]
    public async Task An_operator_command_sent_over_rabbitmq_reaches_the_service_and_records_the_validated_user()
    {
        await using var hosts = new ServiceHosts("pause");
        var drift = await hosts.StartAsync([new DriftDetectionModule()]);
        var pauses = drift.Services.GetRequiredService<IAdaptationPauseRepository>();
        await drift.Services.GetRequiredService<IModelRegistry>().EnsureModelAsync("pause-model");

        await Operators.SendAsync("alice", new PauseAdaptation { ModelId = "pause-model", Reason = "maintenance window" });

        AdaptationPause? pause = null;
        for (var i = 0; i < 100 && pause is null; i++)
        {
            await Task.Delay(100);
            pause = await pauses.GetAsync("pause-model");
        }

        Assert.NotNull(pause);
        Assert.True(pause.Paused);
        Assert.Equal("alice", pause.SetBy);
        Assert.Equal("maintenance window", pause.Reason);
    }

    [Fact]
    public async Task An_event_published_by_one_service_host_reaches_a_consumer_in_another_host()
    {
        await using var hosts = new ServiceHosts("rollback");
        var events = new EventLogModule();
        var deployment = await hosts.StartAsync([new DeploymentModule()]);
        await hosts.StartAsync([events]);
        await Seed.TwoProductionVersionsAsync(deployment.Services, "rb-model");

        await Operators.SendAsync("alice", new RollbackModel { ModelId = "rb-model", Reason = "v2 misbehaves" });

        var rolledBack = await events.Log.WaitAsync<ModelRolledBack>(e => e.ModelId == "rb-model", TimeSpan.FromSeconds(30));
        Assert.Equal(1, rolledBack.Version);
        Assert.Equal(2, rolledBack.PreviousVersion);
        Assert.Equal("alice", rolledBack.By);
    }

    [Fact]
    public async Task An_invalid_message_lands_in_the_error_queue_with_the_validation_errors_and_no_consumer_runs()
    {
        await using var hosts = new ServiceHosts("invalid");
        var drift = await hosts.StartAsync([new DriftDetectionModule()]);

        await Operators.SendAsync("guest", new PauseAdaptation { ModelId = "Not A Valid Id!", Reason = "" });

        await using var connection = await Broker.ConnectAsync();
        var faulted = await Broker.GetAsync(connection, Queue<PauseAdaptationConsumer>(hosts) + "_error", TimeSpan.FromSeconds(30));
        Assert.NotNull(faulted);
        var reason = Encoding.UTF8.GetString((byte[])faulted.BasicProperties.Headers!["MT-Fault-Message"]!);
        Assert.Contains("Model Id", reason, StringComparison.Ordinal);
        Assert.Contains("Reason", reason, StringComparison.Ordinal);
        Assert.Null(await drift.Services.GetRequiredService<IAdaptationPauseRepository>().GetAsync("Not A Valid Id!"));
    }

    [Fact]
    public async Task A_throwing_consumer_is_retried_by_the_policy_and_then_faulted_to_the_error_queue()
    {
        await using var hosts = new ServiceHosts("retry");
        var probe = new ProbeModule();
        var host = await hosts.StartAsync([probe]); // Retry:Limit = 2 (ServiceHosts settings)
        var id = Guid.NewGuid();

        await host.Services.GetRequiredService<IBus>().Publish(new ProbeFailure { Id = id });

        await using var connection = await Broker.ConnectAsync();
        var faulted = await Broker.GetAsync(connection, Queue<ProbeFailureConsumer>(hosts) + "_error", TimeSpan.FromSeconds(30));
        Assert.NotNull(faulted);
        Assert.Equal(3, probe.Counter.Attempts[id]); // first try + 2 retries
        var type = Encoding.UTF8.GetString((byte[])faulted.BasicProperties.Headers!["MT-Fault-ExceptionType"]!);
        Assert.Equal(typeof(InvalidOperationException).FullName, type);
    }
}
