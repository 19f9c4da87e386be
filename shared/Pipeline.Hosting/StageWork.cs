using MassTransit;
using Microsoft.Extensions.Logging;
using Pipeline.Contracts;

namespace Pipeline.Hosting;

/// <summary>
/// Endpoint settings for the adaptation run's messages (stage work and the owner's inputs): quorum
/// queues on RabbitMQ, so a message survives a broker restart and one that keeps killing its worker
/// stops after a bounded number of deliveries (the owner then fails the run after its attempts).
/// </summary>
public class RunEndpointDefinition<TConsumer> : ConsumerDefinition<TConsumer>
    where TConsumer : class, IConsumer
{
    public const int DeliveryLimit = 10;

    protected override void ConfigureConsumer(
        IReceiveEndpointConfigurator endpointConfigurator, IConsumerConfigurator<TConsumer> consumerConfigurator, IRegistrationContext context)
    {
        if (endpointConfigurator is IRabbitMqReceiveEndpointConfigurator rabbit)
        {
            rabbit.SetQuorumQueue();
            rabbit.SetQueueArgument("x-delivery-limit", DeliveryLimit);
        }
    }
}

/// <summary>A worker that takes one job at a time (GPU-bound tuning), so replicas compete fairly.</summary>
public class SingleJobEndpointDefinition<TConsumer> : RunEndpointDefinition<TConsumer>
    where TConsumer : class, IConsumer
{
    protected override void ConfigureConsumer(
        IReceiveEndpointConfigurator endpointConfigurator, IConsumerConfigurator<TConsumer> consumerConfigurator, IRegistrationContext context)
    {
        base.ConfigureConsumer(endpointConfigurator, consumerConfigurator, context);
        endpointConfigurator.PrefetchCount = 1;
        endpointConfigurator.ConcurrentMessageLimit = 1;
    }
}

/// <summary>How a stage worker reports work it cannot do: the run's owner decides what happens to the run.</summary>
public static class StageWork
{
    public static Task FailAsync(ConsumeContext context, ILogger logger, IRunMessage work, string stage, string reason)
    {
        logger.LogWarning("Run {RunId} of {ModelId}: {Stage} cannot be done: {Reason}", work.RunId, work.ModelId, stage, reason);
        return context.Publish(new AdaptationStageFailed { RunId = work.RunId, ModelId = work.ModelId, Stage = stage, Reason = reason }, context.CancellationToken);
    }
}
