using MassTransit;
using Microsoft.Extensions.Logging;
using Pipeline.Contracts;
using Pipeline.Storage.Repositories;

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

/// <summary>What every stage worker does around its one library call.</summary>
public static class StageWork
{
    /// <summary>
    /// False when the run has ended (work re-sent or redelivered after the owner gave up): nothing
    /// to do. An unknown run, or one of another model, is a rejected command.
    /// </summary>
    public static async Task<bool> IsWantedAsync(IAdaptationRunRepository runs, IRunMessage work, int attempt, ILogger logger, CancellationToken ct)
    {
        if (await runs.GetAsync(work.RunId, ct) is not { } run || run.ModelId != work.ModelId)
        {
            throw new CommandRejectedException($"run {work.RunId} of {work.ModelId} is unknown");
        }

        if (run.FinishedAt is not null)
        {
            logger.LogInformation("Run {RunId} is {State}; {Work} attempt {Attempt} skipped", work.RunId, run.State, work.GetType().Name, attempt);
            return false;
        }

        return true;
    }

    /// <summary>Work that cannot be done: the run's owner decides what happens to the run.</summary>
    /// <param name="candidate">In a tournament, the candidate whose work failed (the others go on).</param>
    public static Task FailAsync(ConsumeContext context, ILogger logger, IRunMessage work, RunStage stage, string reason, string? candidate = null)
    {
        logger.LogWarning("Run {RunId} of {ModelId}: {Stage} cannot be done: {Reason}", work.RunId, work.ModelId, stage, reason);
        return context.Publish(new AdaptationStageFailed
        {
            RunId = work.RunId, ModelId = work.ModelId, Stage = stage, Reason = reason, Candidate = candidate,
        }, context.CancellationToken);
    }
}
