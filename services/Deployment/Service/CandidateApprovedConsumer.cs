using MassTransit;
using Microsoft.Extensions.Logging;
using Pipeline.Contracts;
using Pipeline.Hosting;
using Pipeline.Storage.Repositories;

namespace Pipeline.Deployment;

/// <summary>CandidateApproved → production alias moves to the candidate → ModelDeployed.</summary>
public sealed class CandidateApprovedConsumer(
    IAdaptationRunRepository runs, ModelPromoter promoter, ILogger<CandidateApprovedConsumer> logger)
    : IConsumer<CandidateApproved>
{
    public async Task Consume(ConsumeContext<CandidateApproved> context)
    {
        var m = context.Message;
        var ct = context.CancellationToken;
        var run = await runs.GetAsync(m.RunId, ct);
        if (run is null || run.ModelId != m.ModelId)
        {
            throw new CommandRejectedException($"run {m.RunId} of {m.ModelId} is unknown");
        }

        if (run.State is RunState.Evaluating or RunState.AwaitingApproval)
        {
            if (!await runs.TryTransitionAsync(run.RunId, run.State, RunState.Deploying, detail: $"approved by {m.By} ({m.Mode})", cancellationToken: ct))
            {
                logger.LogInformation("Run {RunId} moved on concurrently; approval ignored", m.RunId);
                return;
            }
        }
        else if (run.State != RunState.Deploying)
        {
            logger.LogInformation("Run {RunId} is {State}; approval ignored (duplicate or late)", m.RunId, run.State);
            return;
        }

        ModelPromoter.Promotion promotion;
        try
        {
            promotion = await promoter.PromoteAsync(m.ModelId, m.CandidateVersion, DeploymentKind.Deploy, m.By,
                $"run {m.RunId} approved ({m.Mode})", m.RunId, ct);
        }
        catch (CannotPromoteException ex)
        {
            await RunFailures.FailAsync(runs, context, logger, m.RunId, m.ModelId, "deploy", ex.Message, ct);
            return;
        }

        if (await runs.TryTransitionAsync(run.RunId, RunState.Deploying, RunState.Deployed, detail: $"v{m.CandidateVersion} in production", cancellationToken: ct))
        {
            PipelineMetrics.RunsFinished.WithLabels(m.ModelId, "deployed").Inc();
        }

        logger.LogInformation("Deployed {ModelId} v{Version} (was v{Previous}) for run {RunId}",
            m.ModelId, m.CandidateVersion, promotion.PreviousVersion, m.RunId);
        await context.Publish(new ModelDeployed
        {
            ModelId = m.ModelId, Version = m.CandidateVersion, PreviousVersion = promotion.PreviousVersion, RunId = m.RunId,
            ArtifactUri = promotion.Version.ArtifactUri, Sha256 = promotion.Version.Sha256, By = m.By,
            Reason = $"run {m.RunId} approved ({m.Mode})",
        }, ct);
    }
}
