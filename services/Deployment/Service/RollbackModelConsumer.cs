using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pipeline.Contracts;
using Pipeline.Hosting;
using Pipeline.Storage.Repositories;

namespace Pipeline.Deployment;

/// <summary>
/// RollbackModel (an operator) → production alias returns to the last good version (or the named one) →
/// ModelRolledBack. Without a named version the rollback never returns to a version that was rolled back as
/// bad. An operator may name only a version that once served production and was not rolled back as bad;
/// anything else takes an approver, whose reason is audited. A version that does not exist is refused.
/// </summary>
public sealed class RollbackModelConsumer(
    IModelRegistry registry, ModelPromoter promoter, IOptions<RoleOptions> roles, ILogger<RollbackModelConsumer> logger)
    : IConsumer<RollbackModel>
{
    public Task Consume(ConsumeContext<RollbackModel> context) =>
        OperatorCommand.HandleAsync(context, roles.Value, OperatorRole.Operator, logger, by => RollBackAsync(context, by));

    private async Task<string> RollBackAsync(ConsumeContext<RollbackModel> context, string by)
    {
        var m = context.Message;
        var ct = context.CancellationToken;
        _ = await registry.GetModelAsync(m.ModelId, ct) ?? throw new CommandRejectedException($"model {m.ModelId} is unknown");
        var current = await registry.GetProductionAsync(m.ModelId, ct)
            ?? throw new CommandRejectedException($"{m.ModelId} has no production version to roll back");

        var rollback = new RollbackTarget(await registry.GetProductionHistoryAsync(m.ModelId, 1000, ct));
        int target;
        if (m.ToVersion is { } named)
        {
            if (await registry.GetVersionAsync(m.ModelId, named, ct) is null)
            {
                var latest = await registry.GetLatestVersionNumberAsync(m.ModelId, ct);
                throw new CommandRejectedException($"rollback refused: {m.ModelId} v{named} does not exist (versions are v1..v{latest})");
            }

            target = named;
        }
        else
        {
            target = rollback.LastGood(current.Version) ?? throw new CommandRejectedException(
                $"rollback refused: {m.ModelId} v{current.Version} has no earlier good version" +
                (rollback.RolledBackAsBad.Count > 0 ? $" (rolled back as bad: {string.Join(", ", rollback.RolledBackAsBad.Order().Select(v => "v" + v))})" : "") +
                "; an approver may name one with --to");
        }

        if (target == current.Version)
        {
            throw new CommandRejectedException($"{m.ModelId} v{target} is already in production");
        }

        var servedBefore = rollback.ServedProduction(target);
        if ((!servedBefore || rollback.RolledBackAsBad.Contains(target)) && !roles.Value.Has(by, OperatorRole.Approver))
        {
            var why = servedBefore ? "was rolled back as bad" : "never served production";
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
        return $"{m.ModelId} rolled back from v{current.Version} to v{target}; v{current.Version} is recorded as rolled back as bad";
    }
}
