using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Artifacts;
using Pipeline.AdaptationRuns;
using Pipeline.Hosting;
using Pipeline.Storage;

namespace Pipeline.DriftDetection;

/// <summary>Watches production inputs per model and raises DriftDetected; owns pause/resume commands; learns of runs from the run owner's events.</summary>
public sealed class DriftDetectionModule : IServiceModule
{
    private bool partitioned;

    public string Name => "drift-detection";

    public void ConfigureServices(IServiceCollection services, IConfiguration configuration)
    {
        services.AddServiceStorage(configuration);
        services.AddRunWork();
        services.AddValidatedOptions<DriftDetectionOptions>(configuration, DriftDetectionOptions.Section);
        services.AddArtifacts();
        services.AddSingleton<ReferenceProfileStore>();
        services.AddSingleton<MonitorRegistry>();
        services.AddSingleton<WindowRecorder>();
        services.AddSingleton<IRabbitMqEndpointContributor, DriftPartitions>();
        // Partition queues exist on RabbitMQ only; elsewhere every consumer keeps its default endpoint.
        var transport = configuration.GetSection(MessagingOptions.Section).Get<MessagingOptions>()?.Transport;
        partitioned = transport == TransportKind.RabbitMq
            && configuration.GetSection(DriftDetectionOptions.Section).GetValue<int>(nameof(DriftDetectionOptions.Partitions)) > 0;
    }

    public void AddConsumers(IBusRegistrationConfigurator bus)
    {
        Add<ObservationsIngestedConsumer>(bus);
        Add<LabelsObservedConsumer>(bus);
        bus.AddConsumer<ModelVersionRegisteredConsumer>();
        bus.AddConsumer<PauseAdaptationConsumer>();
        bus.AddConsumer<ResumeAdaptationConsumer>();
        Add<AdaptationRunStartedConsumer>(bus);
        Add<AdaptationRunFinishedConsumer>(bus);
    }

    private void Add<T>(IBusRegistrationConfigurator bus)
        where T : class, IConsumer
    {
        var consumer = bus.AddConsumer<T>();
        if (partitioned)
        {
            consumer.ExcludeFromConfigureEndpoints();
        }
    }
}
