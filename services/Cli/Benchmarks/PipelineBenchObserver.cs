using System.Threading.Channels;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Contracts;
using Pipeline.Hosting;

namespace Pipeline.Cli.Benchmarks;

/// <summary>A run message the bench received, with the hop it closes (from its stamp).</summary>
public sealed record BenchEvent(object Message, Guid? RunId, HopRecord? Hop);

/// <summary>What the bench's observer receives, in order.</summary>
public sealed class PipelineBenchEvents
{
    private readonly Channel<BenchEvent> channel = Channel.CreateUnbounded<BenchEvent>();
    private readonly List<HopRecord> hops = [];

    public ChannelReader<BenchEvent> Reader => channel.Reader;

    public IReadOnlyList<HopRecord> Hops
    {
        get
        {
            lock (hops)
            {
                return [.. hops];
            }
        }
    }

    public void Post(ConsumeContext context, object message, Guid? runId)
    {
        var hop = runId is { } id
            ? HopRecord.From(id, message.GetType().Name, context.SentTime is { } s ? new DateTimeOffset(DateTime.SpecifyKind(s, DateTimeKind.Utc)) : null,
                HopStamp.ReadFrom(context.Headers))
            : null;
        if (hop is not null)
        {
            lock (hops)
            {
                hops.Add(hop);
            }
        }

        channel.Writer.TryWrite(new BenchEvent(message, runId, hop));
    }
}

/// <summary>Subscribes the bench to the run's work and events (its own queue, beside the services' queues).</summary>
public sealed class PipelineBenchObserverModule(PipelineBenchEvents events) : IServiceModule
{
    public string Name => "bench-pipeline";

    public void ConfigureServices(IServiceCollection services, IConfiguration configuration) => services.AddSingleton(events);

    public void AddConsumers(IBusRegistrationConfigurator bus) => bus.AddConsumer<PipelineBenchObserver>();
}

/// <summary>
/// Sees every message of a run: the owner's work (published, so the bench gets a copy) and the workers' results.
/// Each carries the hop stamp of the consume that caused it.
/// </summary>
public sealed class PipelineBenchObserver(PipelineBenchEvents events) :
    IConsumer<AdaptationRunStarted>, IConsumer<ScoreSensitivity>, IConsumer<SensitivityScored>, IConsumer<TrainCandidate>,
    IConsumer<CandidateTrained>, IConsumer<EvaluateCandidate>, IConsumer<CandidateEvaluated>, IConsumer<DeployCandidate>,
    IConsumer<ModelDeployed>, IConsumer<AdaptationRunFinished>, IConsumer<AdaptationStageFailed>
{
    public Task Consume(ConsumeContext<AdaptationRunStarted> context) => Post(context, context.Message.RunId);

    public Task Consume(ConsumeContext<ScoreSensitivity> context) => Post(context, context.Message.RunId);

    public Task Consume(ConsumeContext<SensitivityScored> context) => Post(context, context.Message.RunId);

    public Task Consume(ConsumeContext<TrainCandidate> context) => Post(context, context.Message.RunId);

    public Task Consume(ConsumeContext<CandidateTrained> context) => Post(context, context.Message.RunId);

    public Task Consume(ConsumeContext<EvaluateCandidate> context) => Post(context, context.Message.RunId);

    public Task Consume(ConsumeContext<CandidateEvaluated> context) => Post(context, context.Message.RunId);

    public Task Consume(ConsumeContext<DeployCandidate> context) => Post(context, context.Message.RunId);

    public Task Consume(ConsumeContext<ModelDeployed> context) => Post(context, context.Message.RunId);

    public Task Consume(ConsumeContext<AdaptationRunFinished> context) => Post(context, context.Message.RunId);

    public Task Consume(ConsumeContext<AdaptationStageFailed> context) => Post(context, context.Message.RunId);

    private Task Post<T>(ConsumeContext<T> context, Guid? runId)
        where T : class
    {
        events.Post(context, context.Message, runId);
        return Task.CompletedTask;
    }
}
