using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.DriftDetection;
using Pipeline.Storage.Repositories;
using RabbitMQ.Client;

namespace Pipeline.Integration.Tests;

/// <summary>An operator without pipelinectl: plain AMQP, raw JSON body, as docs/operations.md describes.</summary>
public class PlainAmqpTests
{
    [Fact]
    public async Task A_raw_json_command_published_to_the_message_type_exchange_is_consumed_and_attributed_to_the_amqp_user()
    {
        await using var hosts = new ServiceHosts("plain");
        var drift = await hosts.StartAsync([new DriftDetectionModule()]);
        await drift.Services.GetRequiredService<IModelRegistry>().EnsureModelAsync("plain-model");

        await using (var connection = await Broker.ConnectAsync("alice"))
        await using (var channel = await connection.CreateChannelAsync())
        {
            var body = """{"modelId":"plain-model","reason":"paused from amqp-publish"}"""u8.ToArray();
            var props = new BasicProperties { ContentType = "application/json", UserId = "alice", DeliveryMode = DeliveryModes.Persistent };
            await channel.BasicPublishAsync("Pipeline.Contracts:PauseAdaptation", routingKey: "", mandatory: false, props, body);
        }

        var pauses = drift.Services.GetRequiredService<IAdaptationPauseRepository>();
        AdaptationPause? pause = null;
        for (var i = 0; i < 100 && pause is null; i++)
        {
            await Task.Delay(100);
            pause = await pauses.GetAsync("plain-model");
        }

        Assert.NotNull(pause);
        Assert.Equal("alice", pause.SetBy);
        Assert.Equal("paused from amqp-publish", pause.Reason);
    }

    [Fact]
    public async Task The_broker_refuses_a_user_id_that_is_not_the_connections_user()
    {
        await using var connection = await Broker.ConnectAsync("mallory");
        var channel = await connection.CreateChannelAsync();
        var props = new BasicProperties { ContentType = "application/json", UserId = "alice" };
        await channel.BasicPublishAsync("amq.fanout", "", false, props, Encoding.UTF8.GetBytes("{}"));

        // RabbitMQ closes the channel with PRECONDITION_FAILED: mallory cannot act as alice.
        for (var i = 0; i < 50 && channel.IsOpen; i++)
        {
            await Task.Delay(100);
        }

        Assert.False(channel.IsOpen);
        Assert.Equal((ushort)406, channel.CloseReason?.ReplyCode);
    }
}
