using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Hosting;

namespace Pipeline.Deployment;

/// <summary>Deploys a run's approved candidate when the run's owner says so, and rolls back on an operator's command.</summary>
public sealed class DeploymentModule : IServiceModule
{
    public string Name => "deployment";

    public void ConfigureServices(IServiceCollection services, IConfiguration configuration) =>
        services.AddSingleton<ModelPromoter>();

    public void AddConsumers(IBusRegistrationConfigurator bus)
    {
        bus.AddConsumer<DeployCandidateConsumer, RunEndpointDefinition<DeployCandidateConsumer>>();
        bus.AddConsumer<RollbackModelConsumer>();
    }
}
