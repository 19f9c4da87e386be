using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Artifacts;
using Pipeline.AdaptationRuns;
using Pipeline.Hosting;
using Pipeline.Storage;

namespace Pipeline.Deployment;

/// <summary>Owns the registry's lifecycle: registers models, deploys a run's approved candidate when the run's owner says so, rolls back on an operator's command.</summary>
public sealed class DeploymentModule : IServiceModule
{
    public string Name => "deployment";

    public void ConfigureServices(IServiceCollection services, IConfiguration configuration)
    {
        services.AddServiceStorage(configuration);
        services.AddRunWork();
        services.AddSingleton<ModelPromoter>();
        services.AddArtifacts();
        services.AddSingleton<ModelRegistration>();
        services.AddValidatedOptions<RegistrationGateOptions>(configuration, RegistrationGateOptions.Section);
        // Before the bus (AddPipelineServices adds MassTransit after the modules; hosted services start in order).
        if (configuration.GetValue(DeploymentWarmUp.Switch, true))
        {
            services.AddHostedService<DeploymentWarmUp>();
        }
    }

    public void AddConsumers(IBusRegistrationConfigurator bus)
    {
        bus.AddConsumer<DeployCandidateConsumer, RunEndpointDefinition<DeployCandidateConsumer>>();
        bus.AddConsumer<RollbackModelConsumer>();
        bus.AddConsumer<RegisterModelConsumer>();
        bus.AddConsumer<ListModelsConsumer>();
    }
}
