using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pipeline.Contracts;
using Pipeline.Hosting;
using Pipeline.Storage.Repositories;

namespace Pipeline.AdaptationRuns;

/// <summary>
/// The run's messages as outbox rows. MassTransit's transactional outbox needs Entity Framework;
/// the run is written with Dapper, so the messages a transition causes are rows in the same
/// transaction (run_outbox) and <see cref="OutboxRelay"/> publishes them afterwards.
/// </summary>
public static class RunMessages
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>The message as an outbox row, with the hop stamp of the consume that causes it (HopTiming.cs).</summary>
    public static OutgoingMessage Of<T>(T message)
        where T : class, IPipelineMessage =>
        new(typeof(T).FullName!, JsonSerializer.Serialize(message, Json)) { HopStamp = HopStamp.Current?.Encode() };

    /// <summary>The same work again, marked as the given attempt.</summary>
    public static OutgoingMessage Again(string messageType, string body, int attempt)
    {
        var node = JsonNode.Parse(body)!.AsObject();
        node["attempt"] = attempt;
        node["timestamp"] = DateTimeOffset.UtcNow;
        return new OutgoingMessage(messageType, node.ToJsonString(Json)) { HopStamp = HopStamp.Current?.Encode() };
    }

    public static (object Message, Type Type) Read(string messageType, string body)
    {
        var type = typeof(IPipelineMessage).Assembly.GetType(messageType, throwOnError: false)
            ?? throw new InvalidOperationException($"outbox holds an unknown message type {messageType}");
        return (JsonSerializer.Deserialize(body, type, Json)!, type);
    }
}

/// <summary>Wakes the relay right after a transition commits, so messages do not wait for the next poll.</summary>
public sealed class OutboxSignal
{
    private readonly SemaphoreSlim signal = new(0, 1);

    public void Notify()
    {
        if (signal.CurrentCount == 0)
        {
            try
            {
                signal.Release();
            }
            catch (SemaphoreFullException)
            {
                // already signalled
            }
        }
    }

    public Task WaitAsync(TimeSpan timeout, CancellationToken ct) => signal.WaitAsync(timeout, ct);
}

/// <summary>
/// Publishes committed outbox rows in order, then deletes them. Publisher confirms make a publish
/// complete only once the broker holds the message; a crash between publish and delete sends it
/// again (at least once), which every receiver tolerates. While the broker is down rows wait here.
/// </summary>
public sealed class OutboxRelay(
    IServiceScopeFactory scopes, IRunStepStore store, OutboxSignal signal, IOptions<RunOwnerOptions> options, ILogger<OutboxRelay> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // The bus starts after hosted services registered before it; give it its own start.
        await Task.Yield();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await RelayOnceAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogWarning("Outbox relay paused: {Reason}", ex.Message);
            }

            try
            {
                await signal.WaitAsync(options.Value.RelayInterval, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Relays what is committed now; public so tests can drive it.</summary>
    public async Task<int> RelayOnceAsync(CancellationToken ct)
    {
        using var scope = scopes.CreateScope();
        var bus = scope.ServiceProvider.GetRequiredService<IBus>();
        var relayed = 0;
        while (true)
        {
            var batch = await store.PeekOutboxAsync(100, ct);
            if (batch.Count == 0)
            {
                return relayed;
            }

            foreach (var entry in batch)
            {
                var (message, type) = RunMessages.Read(entry.MessageType, entry.Body);

                // Continue the trace of the transition that wrote the row: one run, one trace.
                using var activity = entry.TraceParent is { Length: > 0 } parent
                    ? Telemetry.Source.StartActivity($"relay {type.Name}", System.Diagnostics.ActivityKind.Producer, parent)
                    : null;
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                timeout.CancelAfter(TimeSpan.FromSeconds(30));
                // The consume that wrote the row, ready when its transition began: the hop headers of the message.
                using (HopStamp.Use(HopStamp.Decode(entry.HopStamp)?.ReadyAt(entry.CreatedAt)))
                {
                    await bus.Publish(message, type, timeout.Token);
                }

                await store.DeleteOutboxAsync(entry.Id, ct);
                relayed++;
            }
        }
    }
}
