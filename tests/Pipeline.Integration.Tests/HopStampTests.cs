using System.Threading.Channels;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Cli.Benchmarks;
using Pipeline.Hosting;

namespace Pipeline.Integration.Tests;

public sealed record HopProbeWork
{
    public required Guid Id { get; init; }
}

public sealed record HopProbeDone
{
    public required Guid Id { get; init; }
}

/// <summary>A worker: 80 ms of "compute" (measured) and 60 ms of other work, then its result.</summary>
public sealed class HopProbeWorker : IConsumer<HopProbeWork>
{
    public async Task Consume(ConsumeContext<HopProbeWork> context)
    {
        ComputeClock.Time(() =>
        {
            Thread.Sleep(80);
            return 0;
        });
        await Task.Delay(60);
        await context.Publish(new HopProbeDone { Id = context.Message.Id });
    }
}

public sealed class HopProbeListener(Channel<(HopProbeDone Message, HopRecord? Hop)> seen) : IConsumer<HopProbeDone>
{
    public Task Consume(ConsumeContext<HopProbeDone> context)
    {
        var sent = context.SentTime is { } s ? new DateTimeOffset(DateTime.SpecifyKind(s, DateTimeKind.Utc)) : (DateTimeOffset?)null;
        seen.Writer.TryWrite((context.Message, HopRecord.From(context.Message.Id, nameof(HopProbeDone), sent, HopStamp.ReadFrom(context.Headers))));
        return Task.CompletedTask;
    }
}

public sealed class HopProbeModule(string name, Action<IBusRegistrationConfigurator> consumers, Action<IServiceCollection>? services = null) : IServiceModule
{
    public string Name => name;

    public void ConfigureServices(IServiceCollection s, IConfiguration configuration) => services?.Invoke(s);

    public void AddConsumers(IBusRegistrationConfigurator bus) => consumers(bus);
}

/// <summary>The hop stamp filters of the service defaults on the real RabbitMQ, between two hosts (as two processes).</summary>
public sealed class HopStampTests : IAsyncLifetime
{
    private readonly ServiceHosts hosts = new("hop");

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await hosts.DisposeAsync();

    [Fact]
    public async Task A_published_result_says_which_message_it_came_from_when_it_was_sent_handled_and_computed()
    {
        var seen = Channel.CreateUnbounded<(HopProbeDone Message, HopRecord? Hop)>();
        await hosts.StartAsync([new HopProbeModule("probe-worker", b => b.AddConsumer<HopProbeWorker>())]);
        var listener = await hosts.StartAsync([new HopProbeModule("probe-listener", b => b.AddConsumer<HopProbeListener>(), s => s.AddSingleton(seen))]);

        var id = Guid.NewGuid();
        var before = DateTimeOffset.UtcNow;
        await listener.Services.GetRequiredService<IBus>().Publish(new HopProbeWork { Id = id });
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var (message, hop) = await seen.Reader.ReadAsync(timeout.Token);
        var after = DateTimeOffset.UtcNow;

        Assert.Equal(id, message.Id);
        Assert.NotNull(hop);
        Assert.Equal(nameof(HopProbeWork), hop.Input);
        Assert.Equal("probe-worker", hop.Service);
        Assert.Equal($"{nameof(HopProbeWork)} -> {nameof(HopProbeDone)}", hop.Name);
        // Times are the real clock, in order: sent, consumed, ready, sent on.
        Assert.InRange(hop.InputSent, before.AddMilliseconds(-5), after);
        Assert.InRange(hop.WaitMs, 0, 10_000);
        Assert.InRange(hop.HandlerMs, 140 - 5, 10_000);
        Assert.InRange(hop.ComputeMs, 80 - 5, hop.HandlerMs - 55);
        // Published during the consume: ready when Publish was called (its SentTime); the outbox sends it at the end.
        Assert.Equal(0, hop.DispatchMs);
        Assert.InRange(hop.Sent, hop.ConsumeStart, after);
    }

    [Fact]
    public void A_stamp_survives_the_outbox_and_a_malformed_one_is_ignored()
    {
        var stamp = new HopStamp { Input = "CandidateTrained", Service = "adaptation-runs", InputSent = DateTimeOffset.UtcNow.AddMilliseconds(-30), ConsumeStart = DateTimeOffset.UtcNow };
        stamp.AddCompute(TimeSpan.FromMilliseconds(12.5));
        var ready = stamp.ConsumeStart.AddMilliseconds(7);
        var back = HopStamp.Decode(stamp.Encode())!.ReadyAt(ready);
        Assert.Equal(stamp.Input, back.Input);
        Assert.Equal(stamp.Service, back.Service);
        Assert.Equal(stamp.InputSent, back.InputSent);
        Assert.Equal(stamp.ConsumeStart, back.ConsumeStart);
        Assert.Equal(ready, back.Ready);
        Assert.Equal(12.5, back.Compute.TotalMilliseconds, 6);
        Assert.Null(HopStamp.Decode("{not json"));
        Assert.Null(HopStamp.Decode(null));
    }
}
