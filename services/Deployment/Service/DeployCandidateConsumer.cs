using MassTransit;
using Microsoft.Extensions.Logging;
using Pipeline.Contracts;
using Pipeline.AdaptationRuns;

namespace Pipeline.Deployment;

/// <summary>
/// DeployCandidate → production alias moves from the run's base version to its candidate →
/// ModelDeployed. Production that moved during the run is never overwritten: the stage fails with
/// the reason. Work done again after the move announces the deployment once more, with one row.
/// </summary>
public sealed class DeployCandidateConsumer(
    StageWork stage, ModelPromoter promoter, ILogger<DeployCandidateConsumer> logger)
    : IConsumer<DeployCandidate>
{
    public Task Consume(ConsumeContext<DeployCandidate> context) =>
        stage.DoAsync(context, context.Message, RunStage.Deploy, context.Message.Attempt, () => DeployAsync(context, context.Message),
            ex => ex is CannotPromoteException, candidate: context.Message.CandidateVersion);

    private async Task DeployAsync(ConsumeContext context, DeployCandidate m)
    {
        var ct = context.CancellationToken;
        var reason = $"run {m.RunId} approved by {m.By} ({m.Mode})";
        var promotion = await promoter.PromoteForRunAsync(m.ModelId, m.BaseVersion, m.CandidateVersion, m.By, reason, m.RunId, ct);
        logger.LogInformation("Deployed {ModelId} v{Version} (was v{Previous}) for run {RunId}", m.ModelId, m.CandidateVersion, promotion.PreviousVersion, m.RunId);
        await context.Publish(new ModelDeployed
        {
            ModelId = m.ModelId, Version = m.CandidateVersion, PreviousVersion = promotion.PreviousVersion, RunId = m.RunId,
            ArtifactUri = promotion.Version.ArtifactUri, Sha256 = promotion.Version.Sha256, By = m.By, Reason = reason,
        }, ct);
    }
}
