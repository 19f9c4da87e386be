using System.Collections.Concurrent;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Contracts;
using Pipeline.Hosting;

namespace Pipeline.Cli.Benchmarks;

/// <summary>Every <see cref="DriftWindowEvaluated"/> the bench hears, with the time it arrived here.</summary>
public sealed class WindowRecorder
{
    private readonly ConcurrentQueue<(DriftWindowEvaluated Window, DateTimeOffset ReceivedAt)> windows = new();
    private long rows;

    /// <summary>Rows of all segments heard so far (any model, duplicates included).</summary>
    public long Rows => Interlocked.Read(ref rows);

    public IReadOnlyList<(DriftWindowEvaluated Window, DateTimeOffset ReceivedAt)> Windows => windows.ToArray();

    public void Record(DriftWindowEvaluated window)
    {
        windows.Enqueue((window, DateTimeOffset.UtcNow));
        Interlocked.Add(ref rows, window.Batches.Sum(b => (long)b.Rows));
    }
}

/// <summary>The bench as one more observer on the bus: a temporary (auto-delete) queue bound to DriftWindowEvaluated.</summary>
public sealed class WindowRecorderModule(WindowRecorder recorder) : IServiceModule
{
    public string Name => "bench-load";

    public void ConfigureServices(IServiceCollection services, IConfiguration configuration) => services.AddSingleton(recorder);

    public void AddConsumers(IBusRegistrationConfigurator bus) =>
        bus.AddConsumer<WindowRecorderConsumer>().Endpoint(e => e.Temporary = true);
}

public sealed class WindowRecorderConsumer(WindowRecorder recorder) : IConsumer<DriftWindowEvaluated>
{
    public Task Consume(ConsumeContext<DriftWindowEvaluated> context)
    {
        recorder.Record(context.Message);
        return Task.CompletedTask;
    }
}
