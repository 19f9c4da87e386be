using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pipeline.Contracts;
using Pipeline.Hosting;
using Pipeline.Storage.Repositories;

namespace Pipeline.EvaluationGate;

/// <summary>
/// An operator's approve or reject: checks who sent it (validated AMQP user on the allow-list) and
/// that its run is waiting for a person, claims the run, audits the decision and announces it.
/// </summary>
public sealed class OperatorDecisions(
    IAdaptationRunRepository runs, IApprovalRepository approvals, IOptions<GateOptions> options, ILogger<OperatorDecisions> logger)
{
    public async Task DecideAsync(ConsumeContext context, Guid runId, string? modelId, string reason, bool approve, CancellationToken ct)
    {
        var user = OperatorIdentity.Of(context)
            ?? throw new CommandRejectedException("the sender is unknown: send operator commands with a validated AMQP user_id");
        if (!options.Value.Operators.Contains(user, StringComparer.Ordinal))
        {
            throw new CommandRejectedException($"'{user}' is not on the approval allow-list (Gate:Operators)");
        }

        var run = await runs.GetAsync(runId, ct) ?? throw new CommandRejectedException($"run {runId} is unknown");
        if (modelId is not null && modelId != run.ModelId)
        {
            throw new CommandRejectedException($"run {runId} belongs to {run.ModelId}, not {modelId}");
        }

        if (run.State != RunState.AwaitingApproval || run.CandidateVersion is not { } candidate)
        {
            throw new CommandRejectedException($"run {runId} is {run.State}, not awaiting approval");
        }

        var verb = approve ? "approved" : "rejected";
        var next = approve ? RunState.Deploying : RunState.Rejected;
        if (!await runs.TryTransitionAsync(runId, RunState.AwaitingApproval, next, detail: $"{verb} by {user}: {reason}", cancellationToken: ct))
        {
            throw new CommandRejectedException($"run {runId} was decided concurrently");
        }

        await approvals.AddAsync(new ApprovalRecord
        {
            RunId = runId, Decision = approve ? ApprovalDecision.Approve : ApprovalDecision.Reject, DecidedBy = user,
            Mode = Storage.Repositories.ApprovalMode.Manual, Reason = reason,
        }, ct);
        logger.LogInformation("Run {RunId} {Verb} by {Operator}: {Reason}", runId, verb, user, reason);
        if (!approve)
        {
            PipelineMetrics.RunsFinished.WithLabels(run.ModelId, "rejected").Inc();
        }

        if (approve)
        {
            await context.Publish(new CandidateApproved
            {
                RunId = runId, ModelId = run.ModelId, CandidateVersion = candidate, By = user, Mode = Contracts.ApprovalMode.Manual, Reasons = [reason],
            }, ct);
        }
        else
        {
            await context.Publish(new CandidateRejected
            {
                RunId = runId, ModelId = run.ModelId, CandidateVersion = candidate, By = user, Mode = Contracts.ApprovalMode.Manual, Reasons = [reason],
            }, ct);
        }
    }
}

/// <summary>ApproveCandidate (an allowed operator) → CandidateApproved (manual).</summary>
public sealed class ApproveCandidateConsumer(OperatorDecisions decisions) : IConsumer<ApproveCandidate>
{
    public Task Consume(ConsumeContext<ApproveCandidate> context) =>
        decisions.DecideAsync(context, context.Message.RunId, context.Message.ModelId, context.Message.Reason, approve: true, context.CancellationToken);
}

/// <summary>RejectCandidate (an allowed operator) → CandidateRejected (manual).</summary>
public sealed class RejectCandidateConsumer(OperatorDecisions decisions) : IConsumer<RejectCandidate>
{
    public Task Consume(ConsumeContext<RejectCandidate> context) =>
        decisions.DecideAsync(context, context.Message.RunId, context.Message.ModelId, context.Message.Reason, approve: false, context.CancellationToken);
}
