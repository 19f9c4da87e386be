using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Hosting;
using Pipeline.Storage;

namespace Pipeline.AdaptationRuns;

/// <summary>The owner of adaptation runs (RunOwner): its inputs, its timers and its outbox relay. Run one replica.</summary>
public sealed class AdaptationRunsModule : IServiceModule, IAnnouncesRunEvents
{
    public string Name => "adaptation-runs";

    public void ConfigureServices(IServiceCollection services, IConfiguration configuration)
    {
        services.AddServiceStorage(configuration);
        services.AddValidatedOptions<RunOwnerOptions>(configuration, RunOwnerOptions.Section);
        services.AddValidatedOptions<TournamentOptions>(configuration, TournamentOptions.Section);
        services.AddOptions<TournamentPolicyOptions>()
            .Bind(configuration.GetSection(TournamentPolicyOptions.Section))
            .Validate(o => o.PoolList().Count > 0 && o.PoolList().All(Contracts.StrategyRegistry.IsServable),
                $"Tournament:Pool: every strategy named must be one of {string.Join(", ", Contracts.StrategyRegistry.Servable)}")
            .Validate(o => StrategyEvidence.Loads(o.EvidenceFile), "Tournament:EvidenceFile: the evidence table does not load (a bench continual --evidence JSON)")
            .ValidateOnStart();
        services.AddSingleton<StrategyEvidence>();
        services.AddSingleton<OutboxSignal>();
        services.AddSingleton<RunOwner>();
        services.AddSingleton<RunQueries>();
        services.AddHostedService<RunTimers>();
        services.AddValidatedOptions<ApprovalMetricsOptions>(configuration, RunOwnerOptions.Section);
        services.AddHostedService<ApprovalMetrics>();
        services.AddSingleton<OutboxRelay>();
        services.AddHostedService(sp => sp.GetRequiredService<OutboxRelay>());
        // Before the bus (AddPipelineServices adds MassTransit after the modules; hosted services start in order).
        if (configuration.GetValue(RunOwnerWarmUp.Switch, true))
        {
            services.AddHostedService<RunOwnerWarmUp>();
        }
    }

    public void AddConsumers(IBusRegistrationConfigurator bus)
    {
        bus.AddConsumer<DriftDetectedConsumer, RunEndpointDefinition<DriftDetectedConsumer>>();
        bus.AddConsumer<StartAdaptationConsumer, RunEndpointDefinition<StartAdaptationConsumer>>();
        bus.AddConsumer<SensitivityScoredConsumer, RunEndpointDefinition<SensitivityScoredConsumer>>();
        bus.AddConsumer<TuningProgressConsumer>();
        bus.AddConsumer<CandidateTrainedConsumer, RunEndpointDefinition<CandidateTrainedConsumer>>();
        bus.AddConsumer<CandidateEvaluatedConsumer, RunEndpointDefinition<CandidateEvaluatedConsumer>>();
        bus.AddConsumer<ModelDeployedConsumer, RunEndpointDefinition<ModelDeployedConsumer>>();
        bus.AddConsumer<AdaptationStageFailedConsumer, RunEndpointDefinition<AdaptationStageFailedConsumer>>();
        bus.AddConsumer<ApproveCandidateConsumer, RunEndpointDefinition<ApproveCandidateConsumer>>();
        bus.AddConsumer<RejectCandidateConsumer, RunEndpointDefinition<RejectCandidateConsumer>>();
        bus.AddConsumer<ListRunsConsumer>();
        bus.AddConsumer<GetRunConsumer>();
    }
}
