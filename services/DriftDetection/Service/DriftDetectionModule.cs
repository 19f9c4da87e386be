using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Adaptation;
using Pipeline.Hosting;

namespace Pipeline.DriftDetection;

/// <summary>Watches production inputs per model and raises DriftDetected; owns pause/resume commands; learns of runs from the run owner's events.</summary>
public sealed class DriftDetectionModule : IServiceModule
{
    public string Name => "drift-detection";

    public void ConfigureServices(IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<DriftDetectionOptions>(configuration, DriftDetectionOptions.Section);
        services.AddAdaptationArtifacts();
        services.AddSingleton<MonitorRegistry>();
    }

    public void AddConsumers(IBusRegistrationConfigurator bus)
    {
        bus.AddConsumer<ObservationsIngestedConsumer>();
        bus.AddConsumer<LabelsObservedConsumer>();
        bus.AddConsumer<ModelVersionRegisteredConsumer>();
        bus.AddConsumer<PauseAdaptationConsumer>();
        bus.AddConsumer<ResumeAdaptationConsumer>();
        bus.AddConsumer<AdaptationRunStartedConsumer>();
        bus.AddConsumer<AdaptationRunFinishedConsumer>();
    }
}
