using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Adaptation;
using Pipeline.Hosting;

namespace Pipeline.EvaluationGate;

/// <summary>Measures candidates against production and decides: approve, reject, or ask a person.</summary>
public sealed class EvaluationGateModule : IServiceModule
{
    public string Name => "evaluation-gate";

    public void ConfigureServices(IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<GateOptions>(configuration, GateOptions.Section);
        services.AddAdaptationArtifacts();
        services.AddSingleton<OperatorDecisions>();
        services.AddHostedService<ApprovalExpiry>();
    }

    public void AddConsumers(IBusRegistrationConfigurator bus)
    {
        bus.AddConsumer<CandidateTrainedConsumer>();
        bus.AddConsumer<ApproveCandidateConsumer>();
        bus.AddConsumer<RejectCandidateConsumer>();
    }
}
