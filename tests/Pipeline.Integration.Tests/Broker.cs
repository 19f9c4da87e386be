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

    /// <summary>
    /// Polls a queue until a message arrives or the timeout passes (the queue may not exist yet). A basic.get on a
    /// missing queue closes the channel; on a quorum queue whose leader is still starting (a fresh error queue on a
    /// busy broker) it closes the connection (541 noproc): the poll then goes on over a guest connection of its own.
    /// </summary>
    public static async Task<BasicGetResult?> GetAsync(IConnection connection, string queue, TimeSpan timeout)
    {
        var until = DateTime.UtcNow + timeout;
        IConnection? own = null;
        try
        {
            while (DateTime.UtcNow < until)
            {
                var current = connection.IsOpen ? connection : own is { IsOpen: true } ? own : own = await ConnectAsync();
                try
                {
                    await using var channel = await current.CreateChannelAsync();
                    var result = await channel.BasicGetAsync(queue, autoAck: true);
                    if (result is not null)
                    {
                        return result;
                    }
                }
                catch (Exception ex) when (ex is RabbitMQ.Client.Exceptions.OperationInterruptedException or RabbitMQ.Client.Exceptions.AlreadyClosedException)
                {
                    // not declared yet (MassTransit creates an error queue with its first fault), or not started yet
                }

                await Task.Delay(200);
            }

            return null;
        }
        finally
        {
            if (own is not null)
            {
                await own.DisposeAsync();
            }
        }
    }
}
