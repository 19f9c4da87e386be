using MassTransit;

namespace Pipeline.AdaptationRuns;

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
