using MassTransit;

namespace Pipeline.Hosting;

/// <summary>
/// A module's own RabbitMQ receive endpoints (beyond the ones ConfigureEndpoints makes, e.g. partition
/// queues); register implementations in the module's ConfigureServices. Called on the RabbitMQ transport only.
/// </summary>
public interface IRabbitMqEndpointContributor
{
    void Configure(IBusRegistrationContext context, IRabbitMqBusFactoryConfigurator cfg, MessagingOptions options);
}

/// <summary>
/// Messages about one model are published with the model id as their routing key. Their exchanges are
/// fanout, which ignores it; a consistent-hash exchange bound to them (DriftDetection's partitions) hashes it.
/// </summary>
public static class ModelRoutingKeys
{
    public static void Apply(IRabbitMqBusFactoryConfigurator cfg)
    {
        cfg.Send<Contracts.ObservationsIngested>(s => s.UseRoutingKeyFormatter(c => c.Message.ModelId));
        cfg.Send<Contracts.LabelsObserved>(s => s.UseRoutingKeyFormatter(c => c.Message.ModelId));
        cfg.Send<Contracts.AdaptationRunStarted>(s => s.UseRoutingKeyFormatter(c => c.Message.ModelId));
        cfg.Send<Contracts.AdaptationRunFinished>(s => s.UseRoutingKeyFormatter(c => c.Message.ModelId));
    }
}

/// <summary>
/// A module that announces the run events operators watch (the run owner): their exchanges are declared when its
/// bus starts, not on their first publish, so `ctl runs watch` (whose user may bind to them but not declare them)
/// finds every one of them from the start.
/// </summary>
public interface IAnnouncesRunEvents;

public static class RunEventTopology
{
    public static void Declare(IRabbitMqBusFactoryConfigurator cfg)
    {
        cfg.DeployPublishTopology = true;
        cfg.Publish<Contracts.AdaptationRunStarted>(_ => { });
        cfg.Publish<Contracts.ApprovalRequested>(_ => { });
        cfg.Publish<Contracts.CandidateApproved>(_ => { });
        cfg.Publish<Contracts.CandidateRejected>(_ => { });
        cfg.Publish<Contracts.AdaptationRunFailed>(_ => { });
        cfg.Publish<Contracts.AdaptationRunFinished>(_ => { });
    }
}
