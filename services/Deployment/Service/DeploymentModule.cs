using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Hosting;

namespace Pipeline.Deployment;

/// <summary>Promotes approved candidates, rolls back on command, and fails runs stuck in a stage.</summary>
public sealed class DeploymentModule : IServiceModule
{
    public string Name => "deployment";

    public void ConfigureServices(IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<DeploymentOptions>(configuration, DeploymentOptions.Section);
        services.AddSingleton<ModelPromoter>();
        services.AddHostedService<RunWatchdog>();
    }

    public void AddConsumers(IBusRegistrationConfigurator bus)
    {
        bus.AddConsumer<CandidateApprovedConsumer>();
        bus.AddConsumer<RollbackModelConsumer>();
    }
}
