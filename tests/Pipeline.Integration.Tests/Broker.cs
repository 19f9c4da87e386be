using RabbitMQ.Client;

namespace Pipeline.Integration.Tests;

/// <summary>The RabbitMQ that ./pipeline test starts (PIPELINE_TEST_RABBITMQ, default guest on localhost).</summary>
public static class Broker
{
    public static Uri Uri { get; } = new(Environment.GetEnvironmentVariable("PIPELINE_TEST_RABBITMQ") is { Length: > 0 } u
        ? u : "amqp://guest:guest@127.0.0.1:5672/");

    public static string Host => Uri.Host;

    public static int Port => Uri.Port;

    public static string VirtualHost => Uri.AbsolutePath.Trim('/') is { Length: > 0 } v ? Uri.UnescapeDataString(v) : "/";

    public static async Task<IConnection> ConnectAsync(string? user = null, string? password = null)
    {
        var factory = new ConnectionFactory { Uri = Uri };
        if (user is not null)
        {
            factory.UserName = user;
            factory.Password = password ?? user;
        }

        return await factory.CreateConnectionAsync();
    }

    /// <summary>Polls a queue until a message arrives or the timeout passes (the queue may not exist yet).</summary>
    public static async Task<BasicGetResult?> GetAsync(IConnection connection, string queue, TimeSpan timeout)
    {
        var until = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < until)
        {
            // A basic.get on a missing queue closes the channel, so each attempt gets a fresh one.
            await using var channel = await connection.CreateChannelAsync();
            try
            {
                var result = await channel.BasicGetAsync(queue, autoAck: true);
                if (result is not null)
                {
                    return result;
                }
            }
            catch (RabbitMQ.Client.Exceptions.OperationInterruptedException)
            {
                // not declared yet: MassTransit creates an error queue with its first fault
            }

            await Task.Delay(200);
        }

        return null;
    }
}
