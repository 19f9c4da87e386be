using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Artifacts;
using Pipeline.AdaptationRuns;
using Pipeline.Hosting;

namespace Pipeline.EvaluationGate;

/// <summary>Measures candidates against their run's base version and decides: approve, reject, or ask a person (the run owner acts on it).</summary>
public sealed class EvaluationGateModule : IServiceModule
{
    public string Name => "evaluation-gate";

    public void ConfigureServices(IServiceCollection services, IConfiguration configuration)
    {
        services.AddModelWorker<GateOptions, GateWarmUp>(configuration, GateOptions.Section);
        services.AddRunWork();
    }

    public void AddConsumers(IBusRegistrationConfigurator bus)
    {
        bus.AddConsumer<EvaluateCandidateConsumer, RunEndpointDefinition<EvaluateCandidateConsumer>>();
    }
}
