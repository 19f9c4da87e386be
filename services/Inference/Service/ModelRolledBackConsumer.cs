using MassTransit;
using Microsoft.Extensions.Logging;
using Pipeline.Contracts;

namespace Pipeline.Inference;

/// <summary>ModelRolledBack for this service's model → hot-swap back to the named (older) version.</summary>
public sealed class ModelRolledBackConsumer(ProductionModel model, ILogger<ModelRolledBackConsumer> logger) : IConsumer<ModelRolledBack>
{
    public async Task Consume(ConsumeContext<ModelRolledBack> context)
    {
        var m = context.Message;
        if (!string.Equals(m.ModelId, model.ModelId, StringComparison.Ordinal))
        {
            return;
        }

        var result = await model.SwapToAsync(m.Version, m.Sha256, SwapTrigger.RolledBack, context.CancellationToken);
        logger.LogInformation(
            "ModelRolledBack {ModelId} v{From} → v{Version} by {By} ({Reason}): {Outcome}",
            m.ModelId, m.PreviousVersion, m.Version, m.By, m.Reason, result.Outcome);
    }
}
