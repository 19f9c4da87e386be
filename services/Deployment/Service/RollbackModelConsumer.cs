using MassTransit;
using Microsoft.Extensions.Logging;
using Pipeline.Contracts;
using Pipeline.Hosting;
using Pipeline.Storage.Repositories;

namespace Pipeline.Deployment;

/// <summary>RollbackModel → production alias returns to the previous (or named) version → ModelRolledBack.</summary>
public sealed class RollbackModelConsumer(
    IModelRegistry registry, ModelPromoter promoter, ILogger<RollbackModelConsumer> logger)
    : IConsumer<RollbackModel>
{
    public async Task Consume(ConsumeContext<RollbackModel> context)
    {
        var m = context.Message;
        var ct = context.CancellationToken;
        var by = OperatorIdentity.Of(context) ?? "unknown";
        var current = await registry.GetProductionAsync(m.ModelId, ct)
            ?? throw new CommandRejectedException($"{m.ModelId} has no production version to roll back");

        var target = m.ToVersion ?? await PreviousVersionAsync(m.ModelId, current.Version, ct)
            ?? throw new CommandRejectedException($"{m.ModelId} v{current.Version} has no earlier production version");
        if (target == current.Version)
        {
            throw new CommandRejectedException($"{m.ModelId} v{target} is already in production");
        }

        ModelPromoter.Promotion promotion;
        try
        {
            promotion = await promoter.PromoteAsync(m.ModelId, target, DeploymentKind.Rollback, by, m.Reason, null, ct);
        }
        catch (CannotPromoteException ex)
        {
            throw new CommandRejectedException($"rollback refused: {ex.Message}");
        }

        logger.LogInformation("Rolled back {ModelId} from v{From} to v{To} by {By}: {Reason}", m.ModelId, current.Version, target, by, m.Reason);
        await context.Publish(new ModelRolledBack
        {
            ModelId = m.ModelId, Version = target, PreviousVersion = promotion.PreviousVersion ?? current.Version,
            ArtifactUri = promotion.Version.ArtifactUri, Sha256 = promotion.Version.Sha256, By = by, Reason = m.Reason,
        }, ct);
    }

    /// <summary>The version production pointed at before the current one became production.</summary>
    private async Task<int?> PreviousVersionAsync(string modelId, int current, CancellationToken ct)
    {
        var history = await registry.GetProductionHistoryAsync(modelId, 100, ct);
        return history.FirstOrDefault(h => h.ToVersion == current)?.FromVersion;
    }
}
