using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Artifacts;
using Pipeline.AdaptationRuns;
using Pipeline.Hosting;

namespace Pipeline.SparseTuning;

/// <summary>Trains candidates: MIST sparse tuning by default, GPU when torch sees one.</summary>
public sealed class SparseTuningModule : IServiceModule
{
    public string Name => "sparse-tuning";

    public void ConfigureServices(IServiceCollection services, IConfiguration configuration)
    {
        services.AddModelWorker<TuningServiceOptions, TunerWarmUp>(configuration, TuningServiceOptions.Section);
        services.AddRunWork();
    }

    // One tuning job per worker at a time, whatever the bus-wide limits say.
    public void AddConsumers(IBusRegistrationConfigurator bus) =>
        bus.AddConsumer<TrainCandidateConsumer, SingleJobEndpointDefinition<TrainCandidateConsumer>>();
}
