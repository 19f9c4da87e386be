using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Artifacts;
using Pipeline.AdaptationRuns;
using Pipeline.Hosting;
using Pipeline.Storage;

namespace Pipeline.EvaluationGate;

/// <summary>Measures candidates against their run's base version and decides: approve, reject, or ask a person (the run owner acts on it).</summary>
public sealed class EvaluationGateModule : IServiceModule
{
    public string Name => "evaluation-gate";

    public void ConfigureServices(IServiceCollection services, IConfiguration configuration)
    {
        services.AddServiceStorage(configuration);
        services.AddRunWork();
        services.AddValidatedOptions<GateOptions>(configuration, GateOptions.Section);
        services.AddArtifacts();
        // Before the bus (AddPipelineServices adds MassTransit after the modules; hosted services start in order).
        if (configuration.GetValue(GateOptions.Section + ":WarmUp", true))
        {
            services.AddHostedService<GateWarmUp>();
        }
    }

    public void AddConsumers(IBusRegistrationConfigurator bus)
    {
        bus.AddConsumer<EvaluateCandidateConsumer, RunEndpointDefinition<EvaluateCandidateConsumer>>();
    }
}
