using System.Threading.Channels;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Contracts;
using Pipeline.Hosting;

namespace Pipeline.Standalone.Demo;

/// <summary>Every pipeline event the demo shows, as it happens.</summary>
public sealed class DemoEvents
{
    private readonly Channel<object> channel = Channel.CreateUnbounded<object>();

    public ChannelReader<object> Reader => channel.Reader;

    public void Post(object message) => channel.Writer.TryWrite(message);
}

/// <summary>Subscribes the demo to the run's events (its own queues, like any other observer).</summary>
public sealed class DemoObserverModule(DemoEvents events) : IServiceModule
{
    public string Name => "demo-observer";

    public void ConfigureServices(IServiceCollection services, IConfiguration configuration) => services.AddSingleton(events);

    public void AddConsumers(IBusRegistrationConfigurator bus) => bus.AddConsumer<DemoObserver>();
}

public sealed class DemoObserver(DemoEvents events) :
    IConsumer<DriftDetected>, IConsumer<SensitivityScored>, IConsumer<TuningProgress>, IConsumer<CandidateTrained>,
    IConsumer<CandidateEvaluated>, IConsumer<ApprovalRequested>, IConsumer<CandidateApproved>, IConsumer<CandidateRejected>,
    IConsumer<ModelDeployed>, IConsumer<AdaptationRunFailed>
{
    public Task Consume(ConsumeContext<DriftDetected> context) => Post(context.Message);

    public Task Consume(ConsumeContext<SensitivityScored> context) => Post(context.Message);

    public Task Consume(ConsumeContext<TuningProgress> context) => Post(context.Message);

    public Task Consume(ConsumeContext<CandidateTrained> context) => Post(context.Message);

    public Task Consume(ConsumeContext<CandidateEvaluated> context) => Post(context.Message);

    public Task Consume(ConsumeContext<ApprovalRequested> context) => Post(context.Message);

    public Task Consume(ConsumeContext<CandidateApproved> context) => Post(context.Message);

    public Task Consume(ConsumeContext<CandidateRejected> context) => Post(context.Message);

    public Task Consume(ConsumeContext<ModelDeployed> context) => Post(context.Message);

    public Task Consume(ConsumeContext<AdaptationRunFailed> context) => Post(context.Message);

    private Task Post(object message)
    {
        events.Post(message);
        return Task.CompletedTask;
    }
}
