using MassTransit;
using Microsoft.Extensions.Logging;
using Pipeline.Contracts;

namespace Pipeline.Inference;

/// <summary>ModelDeployed for this service's model → hot-swap to the new version (never to an older one).</summary>
public sealed class ModelDeployedConsumer(ProductionModel model, ILogger<ModelDeployedConsumer> logger) : IConsumer<ModelDeployed>
{
    public async Task Consume(ConsumeContext<ModelDeployed> context)
    {
        var m = context.Message;
        if (!string.Equals(m.ModelId, model.ModelId, StringComparison.Ordinal))
        {
            return;
        }

        var result = await model.SwapToAsync(m.Version, m.Sha256, SwapTrigger.Deployed, context.CancellationToken);
        logger.LogInformation("ModelDeployed {ModelId} v{Version} by {By}: {Outcome}", m.ModelId, m.Version, m.By, result.Outcome);
    }
}
