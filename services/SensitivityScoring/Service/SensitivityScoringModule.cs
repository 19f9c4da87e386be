using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Artifacts;
using Pipeline.AdaptationRuns;
using Pipeline.Hosting;
using Pipeline.Storage;

namespace Pipeline.SensitivityScoring;

/// <summary>Builds the adaptation set and the MI-Fisher sensitivity mask for a run.</summary>
public sealed class SensitivityScoringModule : IServiceModule
{
    public string Name => "sensitivity-scoring";

    public void ConfigureServices(IServiceCollection services, IConfiguration configuration)
    {
        services.AddServiceStorage(configuration);
        services.AddRunWork();
        services.AddValidatedOptions<ScoringServiceOptions>(configuration, ScoringServiceOptions.Section);
        services.AddArtifacts();
        services.AddSingleton<AdaptationSetBuilder>();
        // Before the bus (AddPipelineServices adds MassTransit after the modules; hosted services start in order).
        if (configuration.GetValue(ScoringServiceOptions.Section + ":WarmUp", true))
        {
            services.AddHostedService<ScorerWarmUp>();
        }
    }

    public void AddConsumers(IBusRegistrationConfigurator bus) =>
        bus.AddConsumer<ScoreSensitivityConsumer, SingleJobEndpointDefinition<ScoreSensitivityConsumer>>();
}
