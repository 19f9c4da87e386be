using MassTransit;
using Microsoft.Extensions.Logging;
using Pipeline.Contracts;
using Pipeline.Hosting;
using Pipeline.Storage.Repositories;

namespace Pipeline.Deployment;

/// <summary>
/// DeployCandidate → production alias moves from the run's base version to its candidate →
/// ModelDeployed. Production that moved during the run is never overwritten: the stage fails with
/// the reason. Work done again after the move announces the deployment once more, with one row.
/// </summary>
public sealed class DeployCandidateConsumer(
    IAdaptationRunRepository runs, ModelPromoter promoter, ILogger<DeployCandidateConsumer> logger)
    : IConsumer<DeployCandidate>
{
    public async Task Consume(ConsumeContext<DeployCandidate> context)
    {
        var m = context.Message;
        var ct = context.CancellationToken;
        if (await runs.GetAsync(m.RunId, ct) is not { } run || run.ModelId != m.ModelId)
        {
            throw new CommandRejectedException($"run {m.RunId} of {m.ModelId} is unknown");
        }

        if (run.State != RunState.Deploying || run.CandidateVersion != m.CandidateVersion)
        {
            logger.LogInformation("Run {RunId} is {State}; deployment work attempt {Attempt} skipped", m.RunId, run.State, m.Attempt);
            return;
        }

        var reason = $"run {m.RunId} approved by {m.By} ({m.Mode})";
        ModelPromoter.Promotion promotion;
        try
        {
            promotion = await promoter.PromoteForRunAsync(m.ModelId, m.BaseVersion, m.CandidateVersion, m.By, reason, m.RunId, ct);
        }
        catch (CannotPromoteException ex)
        {
            await StageWork.FailAsync(context, logger, m, RunStage.Deploy, ex.Message);
            return;
        }

        logger.LogInformation("Deployed {ModelId} v{Version} (was v{Previous}) for run {RunId}", m.ModelId, m.CandidateVersion, promotion.PreviousVersion, m.RunId);
        await context.Publish(new ModelDeployed
        {
            ModelId = m.ModelId, Version = m.CandidateVersion, PreviousVersion = promotion.PreviousVersion, RunId = m.RunId,
            ArtifactUri = promotion.Version.ArtifactUri, Sha256 = promotion.Version.Sha256, By = m.By, Reason = reason,
        }, ct);
    }
}
