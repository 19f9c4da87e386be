using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Adaptation;
using Pipeline.Hosting;

namespace Pipeline.Deployment;

/// <summary>Owns the registry's lifecycle: registers models, promotes approved candidates, rolls back on command, fails runs stuck in a stage.</summary>
public sealed class DeploymentModule : IServiceModule
{
    public string Name => "deployment";

    public void ConfigureServices(IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<DeploymentOptions>(configuration, DeploymentOptions.Section);
        services.AddSingleton<ModelPromoter>();
        services.AddAdaptationArtifacts();
        services.AddSingleton<ModelRegistration>();
        services.AddHostedService<RunWatchdog>();
    }

    public void AddConsumers(IBusRegistrationConfigurator bus)
    {
        bus.AddConsumer<CandidateApprovedConsumer>();
        bus.AddConsumer<RollbackModelConsumer>();
        bus.AddConsumer<RegisterModelConsumer>();
        bus.AddConsumer<ListModelsConsumer>();
    }
}
