using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Artifacts;
using Pipeline.Hosting;
using Pipeline.Storage;

namespace Pipeline.Inference;

/// <summary>
/// Serves the production model over HTTP (map the routes with
/// <see cref="InferenceEndpoints.MapInferenceEndpoints"/>), records each request as an observation
/// batch, and hot-swaps the model when it is deployed or rolled back.
/// </summary>
public sealed class InferenceModule : IServiceModule
{
    private string? modelEventsEndpoint;

    public string Name => "inference";

    /// <summary>
    /// This replica's own queue for ModelDeployed/ModelRolledBack: temporary (deleted when the replica
    /// stops) and named after the instance, so every replica gets every event instead of competing for it.
    /// </summary>
    public string ModelEventsEndpoint => modelEventsEndpoint ??= EndpointName(null, null);

    public void ConfigureServices(IServiceCollection services, IConfiguration configuration)
    {
        services.AddServiceStorage(configuration);
        services.AddValidatedOptions<InferenceOptions>(configuration, InferenceOptions.Section);
        services.AddArtifacts();
        services.AddSingleton<ProductionModel>();
        services.AddSingleton<ServedModels>();
        services.AddInferenceOpenApi();
        services.AddSingleton<ClientBatchLedger>();
        services.AddSingleton<EvaluationLag>();
        services.AddSingleton<ForwardBatcher>();
        services.AddSingleton<InferenceHandlers>();
        services.AddInferenceAccess(configuration);
        services.AddHostedService<ProductionModelLoader>();
        services.AddHealthChecks().AddCheck<ServedModelsHealthCheck>("models", tags: [PipelineHost.ReadyTag]);

        modelEventsEndpoint = EndpointName(
            configuration[$"{MessagingOptions.Section}:{nameof(MessagingOptions.EndpointPrefix)}"],
            configuration[$"{InferenceOptions.Section}:{nameof(InferenceOptions.InstanceId)}"]);
    }

    public void AddConsumers(IBusRegistrationConfigurator bus)
    {
        bus.AddConsumer<ModelDeployedConsumer>().Endpoint(ConfigureModelEventsEndpoint);
        bus.AddConsumer<ModelRolledBackConsumer>().Endpoint(ConfigureModelEventsEndpoint);
        bus.AddConsumer<DriftWindowEvaluatedConsumer>().Endpoint(e =>
        {
            // Every replica hears every window (its own batches are in some of them); temporary like the model events queue.
            e.Name = ModelEventsEndpoint.Replace("-model-events-", "-evaluated-", StringComparison.Ordinal);
            e.Temporary = true;
            e.PrefetchCount = 64;
        });
    }

    private void ConfigureModelEventsEndpoint(IEndpointRegistrationConfigurator e)
    {
        e.Name = ModelEventsEndpoint;
        e.Temporary = true;
        // One event at a time, in order: a deploy followed by a rollback must not be applied reversed.
        e.ConcurrentMessageLimit = 1;
        e.PrefetchCount = 4;
    }

    private static string EndpointName(string? prefix, string? instanceId)
    {
        var instance = string.IsNullOrWhiteSpace(instanceId) ? DefaultInstanceId() : instanceId.Trim();
        var name = $"inference-model-events-{instance}";
        return string.IsNullOrWhiteSpace(prefix) ? name : $"{prefix.Trim()}-{name}";
    }

    private static string DefaultInstanceId()
    {
        var machine = new string(Environment.MachineName.ToLowerInvariant()
            .Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-').Take(32).ToArray()).Trim('-');
        var suffix = Guid.NewGuid().ToString("N")[..8];
        return machine.Length == 0 ? suffix : $"{machine}-{suffix}";
    }
}
