using MassTransit;
using Microsoft.Extensions.Logging;
using Pipeline.Contracts;

namespace Pipeline.Inference;

/// <summary>ModelRolledBack of any model (each is served) → hot-swap back to the named (older) version.</summary>
public sealed class ModelRolledBackConsumer(ServedModels models, ILogger<ModelRolledBackConsumer> logger) : IConsumer<ModelRolledBack>
{
    public async Task Consume(ConsumeContext<ModelRolledBack> context)
    {
        var m = context.Message;
        var result = await models.Get(m.ModelId).SwapToAsync(m.Version, m.Sha256, SwapTrigger.RolledBack, context.CancellationToken);
        logger.LogInformation(
            "ModelRolledBack {ModelId} v{From} → v{Version} by {By} ({Reason}): {Outcome}",
            m.ModelId, m.PreviousVersion, m.Version, m.By, m.Reason, result.Outcome);
    }
}
