using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Artifacts;
using Pipeline.AdaptationRuns;
using Pipeline.Hosting;

namespace Pipeline.SensitivityScoring;

/// <summary>Builds the adaptation set and the MI-Fisher sensitivity mask for a run.</summary>
public sealed class SensitivityScoringModule : IServiceModule
{
    public string Name => "sensitivity-scoring";

    public void ConfigureServices(IServiceCollection services, IConfiguration configuration)
    {
        services.AddModelWorker<ScoringServiceOptions, ScorerWarmUp>(configuration, ScoringServiceOptions.Section);
        services.AddRunWork();
        services.AddSingleton<AdaptationSetBuilder>();
    }

    public void AddConsumers(IBusRegistrationConfigurator bus) =>
        bus.AddConsumer<ScoreSensitivityConsumer, SingleJobEndpointDefinition<ScoreSensitivityConsumer>>();
}
