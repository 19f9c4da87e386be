using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Artifacts;
using Pipeline.AdaptationRuns;
using Pipeline.Hosting;
using Pipeline.Storage;

namespace Pipeline.SparseTuning;

/// <summary>Trains candidates: MIST sparse tuning by default, GPU when torch sees one.</summary>
public sealed class SparseTuningModule : IServiceModule
{
    public string Name => "sparse-tuning";

    public void ConfigureServices(IServiceCollection services, IConfiguration configuration)
    {
        services.AddServiceStorage(configuration);
        services.AddRunWork();
        services.AddValidatedOptions<TuningServiceOptions>(configuration, TuningServiceOptions.Section);
        services.AddArtifacts();
        // Before the bus (AddPipelineServices adds MassTransit after the modules; hosted services start in order).
        if (configuration.GetValue(TuningServiceOptions.Section + ":WarmUp", true))
        {
            services.AddHostedService<TunerWarmUp>();
        }
    }

    // One tuning job per worker at a time, whatever the bus-wide limits say.
    public void AddConsumers(IBusRegistrationConfigurator bus) =>
        bus.AddConsumer<TrainCandidateConsumer, SingleJobEndpointDefinition<TrainCandidateConsumer>>();
}
