using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pipeline.Contracts;
using Pipeline.Hosting;

namespace Pipeline.AdaptationRuns;

// Each consumer hands one message to the run's owner (RunOwner), where the rules live.

/// <summary>DriftDetected → a run starts (unless the model has one); drift on a replaced version ends at once as failed.</summary>
public sealed class DriftDetectedConsumer(RunOwner owner) : IConsumer<DriftDetected>
{
    public async Task Consume(ConsumeContext<DriftDetected> context)
    {
        var m = context.Message;
        try
        {
            await owner.StartAsync(m.RunId, m.ModelId, m.ModelVersion, "drift", $"drift in {m.WindowId} ({m.Severity})",
                m.DriftStartedAt, context.CancellationToken, Drift.Tournament.ShiftSignature.From(
                    m.Severity.ToString(), m.DatasetDriftScore, (m.DriftedFeatures.Count > 0 ? m.DriftedFeatures : m.TopFeatures)
                    .Select(f => new Drift.Tournament.MovedFeature(f.Name, f.Test, f.Statistic)).ToList()));
        }
        catch (StaleDriftException ex)
        {
            // No run was created; drift detection still waits for this run's end.
            await context.Publish(new AdaptationRunFinished
            {
                RunId = m.RunId, ModelId = m.ModelId, BaseVersion = m.ModelVersion, Outcome = RunOutcome.Failed, Stage = RunStage.Start.Name(), Reason = ex.Message,
            });
        }
    }
}

/// <summary>StartAdaptation (an operator) → a run on the production version now.</summary>
public sealed class StartAdaptationConsumer(RunOwner owner, IOptions<RoleOptions> roles, ILogger<StartAdaptationConsumer> logger)
    : IConsumer<StartAdaptation>
{
    public Task Consume(ConsumeContext<StartAdaptation> context) =>
        OperatorCommand.HandleAsync(context, roles.Value, OperatorRole.Operator, logger, async user =>
        {
            var m = context.Message;
            var runId = NewId.NextGuid();
            if (!await owner.StartAsync(runId, m.ModelId, null, user, $"started by {user}: {m.Reason}", null, context.CancellationToken))
            {
                throw new CommandRejectedException($"{m.ModelId} already has an active adaptation run");
            }

            return $"run {runId} of {m.ModelId} started";
        });
}

public sealed class SensitivityScoredConsumer(RunOwner owner) : IConsumer<SensitivityScored>
{
    public Task Consume(ConsumeContext<SensitivityScored> context) => owner.OnScoredAsync(context.Message, context.CancellationToken);
}

public sealed class TuningProgressConsumer(RunOwner owner) : IConsumer<TuningProgress>
{
    public Task Consume(ConsumeContext<TuningProgress> context) => owner.OnProgressAsync(context.Message, context.CancellationToken);
}

public sealed class CandidateTrainedConsumer(RunOwner owner) : IConsumer<CandidateTrained>
{
    public Task Consume(ConsumeContext<CandidateTrained> context) => owner.OnTrainedAsync(context.Message, context.CancellationToken);
}

public sealed class CandidateEvaluatedConsumer(RunOwner owner) : IConsumer<CandidateEvaluated>
{
    public Task Consume(ConsumeContext<CandidateEvaluated> context) => owner.OnEvaluatedAsync(context.Message, context.CancellationToken);
}

public sealed class ModelDeployedConsumer(RunOwner owner) : IConsumer<ModelDeployed>
{
    public Task Consume(ConsumeContext<ModelDeployed> context) => owner.OnDeployedAsync(context.Message, context.CancellationToken);
}

public sealed class AdaptationStageFailedConsumer(RunOwner owner) : IConsumer<AdaptationStageFailed>
{
    public Task Consume(ConsumeContext<AdaptationStageFailed> context) => owner.OnStageFailedAsync(context.Message, context.CancellationToken);
}

/// <summary>ApproveCandidate (an approver) → the candidate is deployed.</summary>
public sealed class ApproveCandidateConsumer(RunOwner owner, IOptions<RoleOptions> roles, ILogger<ApproveCandidateConsumer> logger)
    : IConsumer<ApproveCandidate>
{
    public Task Consume(ConsumeContext<ApproveCandidate> context) =>
        OperatorCommand.HandleAsync(context, roles.Value, OperatorRole.Approver, logger, async user =>
        {
            var m = context.Message;
            var run = await owner.DecideAsync(m.RunId, m.ModelId, user, m.Reason, approve: true, context.CancellationToken);
            return $"run {run.RunId} approved: deploying {run.ModelId} v{run.CandidateVersion} (replaces v{run.BaseVersion})";
        });
}

/// <summary>RejectCandidate (an approver) → the run ends rejected.</summary>
public sealed class RejectCandidateConsumer(RunOwner owner, IOptions<RoleOptions> roles, ILogger<RejectCandidateConsumer> logger)
    : IConsumer<RejectCandidate>
{
    public Task Consume(ConsumeContext<RejectCandidate> context) =>
        OperatorCommand.HandleAsync(context, roles.Value, OperatorRole.Approver, logger, async user =>
        {
            var m = context.Message;
            var run = await owner.DecideAsync(m.RunId, m.ModelId, user, m.Reason, approve: false, context.CancellationToken);
            return $"run {run.RunId} rejected: {run.ModelId} stays on v{run.BaseVersion}";
        });
}

/// <summary>ListRuns (a query) → recent or pending runs → RunList (reply).</summary>
public sealed class ListRunsConsumer(RunQueries queries) : IConsumer<ListRuns>
{
    public async Task Consume(ConsumeContext<ListRuns> context) =>
        await context.RespondAsync(await queries.ListAsync(context.Message, context.CancellationToken));
}

/// <summary>GetRun (a query) → one run's stages, approvals and evaluation → RunDetails (reply), refused when unknown.</summary>
public sealed class GetRunConsumer(RunQueries queries) : IConsumer<GetRun>
{
    public async Task Consume(ConsumeContext<GetRun> context)
    {
        if (await queries.GetAsync(context.Message.RunId, context.CancellationToken) is { } details)
        {
            await context.RespondAsync(details);
            return;
        }

        await OperatorCommand.RefuseQueryAsync(context, $"run {context.Message.RunId} is unknown");
    }
}
