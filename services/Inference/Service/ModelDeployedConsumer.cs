using MassTransit;
using Microsoft.Extensions.Logging;
using Pipeline.Contracts;

namespace Pipeline.Inference;

/// <summary>ModelDeployed of any model (each is served) → hot-swap to the new version (never to an older one).</summary>
public sealed class ModelDeployedConsumer(ServedModels models, ILogger<ModelDeployedConsumer> logger) : IConsumer<ModelDeployed>
{
    public async Task Consume(ConsumeContext<ModelDeployed> context)
    {
        var m = context.Message;
        var result = await models.Get(m.ModelId).SwapToAsync(m.Version, m.Sha256, SwapTrigger.Deployed, context.CancellationToken);
        logger.LogInformation("ModelDeployed {ModelId} v{Version} by {By}: {Outcome}", m.ModelId, m.Version, m.By, result.Outcome);
    }
}
