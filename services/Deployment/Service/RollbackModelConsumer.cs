using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pipeline.Contracts;
using Pipeline.Hosting;
using Pipeline.Storage.Repositories;

namespace Pipeline.Deployment;

/// <summary>
/// RollbackModel (an operator) → production alias returns to the previous (or named) version →
/// ModelRolledBack. An operator may return only to a version that once served production and was
/// not rolled back as bad; anything else takes an approver, whose reason is audited.
/// </summary>
public sealed class RollbackModelConsumer(
    IModelRegistry registry, IDeploymentRepository deployments, ModelPromoter promoter, IOptions<RoleOptions> roles,
    ILogger<RollbackModelConsumer> logger)
    : IConsumer<RollbackModel>
{
    public async Task Consume(ConsumeContext<RollbackModel> context)
    {
        var m = context.Message;
        var ct = context.CancellationToken;
        var by = OperatorRoles.Require(context, roles.Value, OperatorRole.Operator, logger);
        var current = await registry.GetProductionAsync(m.ModelId, ct)
            ?? throw new CommandRejectedException($"model {m.ModelId} is unknown or has no production version to roll back");

        var history = await registry.GetProductionHistoryAsync(m.ModelId, 1000, ct);
        var target = m.ToVersion ?? history.FirstOrDefault(h => h.ToVersion == current.Version)?.FromVersion
            ?? throw new CommandRejectedException($"{m.ModelId} v{current.Version} has no earlier production version");
        if (target == current.Version)
        {
            throw new CommandRejectedException($"{m.ModelId} v{target} is already in production");
        }

        var servedBefore = history.Any(h => h.ToVersion == target);
        var rolledBackAsBad = (await deployments.ListByModelAsync(m.ModelId, 1000, ct))
            .Any(d => d.Kind == DeploymentKind.Rollback && d.PreviousVersion == target);
        if ((!servedBefore || rolledBackAsBad) && !roles.Value.Has(by, OperatorRole.Approver))
        {
            var why = servedBefore ? "was rolled back as bad" : "never served production";
            logger.LogWarning("Refused rollback of {ModelId} to v{Target} by {User}: it {Why}", m.ModelId, target, by, why);
            throw new CommandRejectedException($"rollback refused: {m.ModelId} v{target} {why}; only an approver may name it, with a reason");
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
}
