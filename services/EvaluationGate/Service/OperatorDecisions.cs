using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pipeline.Contracts;
using Pipeline.Hosting;
using Pipeline.Storage.Repositories;

namespace Pipeline.EvaluationGate;

/// <summary>Checks who an operator command comes from and that its run is waiting for a person.</summary>
public sealed class OperatorDecisions(IAdaptationRunRepository runs, IOptions<GateOptions> options)
{
    public async Task<(AdaptationRun Run, string Operator)> AuthorizeAsync(ConsumeContext context, Guid runId, string? modelId, CancellationToken ct)
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

        if (run.State != RunState.AwaitingApproval || run.CandidateVersion is null)
        {
            throw new CommandRejectedException($"run {runId} is {run.State}, not awaiting approval");
        }

        return (run, user);
    }
}

/// <summary>ApproveCandidate (an allowed operator) → CandidateApproved (manual).</summary>
public sealed class ApproveCandidateConsumer(
    OperatorDecisions decisions, IAdaptationRunRepository runs, IApprovalRepository approvals, ILogger<ApproveCandidateConsumer> logger)
    : IConsumer<ApproveCandidate>
{
    public async Task Consume(ConsumeContext<ApproveCandidate> context)
    {
        var m = context.Message;
        var ct = context.CancellationToken;
        var (run, user) = await decisions.AuthorizeAsync(context, m.RunId, m.ModelId, ct);
        if (!await runs.TryTransitionAsync(run.RunId, RunState.AwaitingApproval, RunState.Deploying, detail: $"approved by {user}: {m.Reason}", cancellationToken: ct))
        {
            throw new CommandRejectedException($"run {run.RunId} was decided concurrently");
        }

        await approvals.AddAsync(new ApprovalRecord
        {
            RunId = run.RunId, Decision = ApprovalDecision.Approve, DecidedBy = user, Mode = Storage.Repositories.ApprovalMode.Manual, Reason = m.Reason,
        }, ct);
        logger.LogInformation("Run {RunId} approved by {Operator}: {Reason}", run.RunId, user, m.Reason);
        await context.Publish(new CandidateApproved
        {
            RunId = run.RunId, ModelId = run.ModelId, CandidateVersion = run.CandidateVersion!.Value, By = user,
            Mode = Contracts.ApprovalMode.Manual, Reasons = [m.Reason],
        }, ct);
    }
}

/// <summary>RejectCandidate (an allowed operator) → CandidateRejected (manual).</summary>
public sealed class RejectCandidateConsumer(
    OperatorDecisions decisions, IAdaptationRunRepository runs, IApprovalRepository approvals, ILogger<RejectCandidateConsumer> logger)
    : IConsumer<RejectCandidate>
{
    public async Task Consume(ConsumeContext<RejectCandidate> context)
    {
        var m = context.Message;
        var ct = context.CancellationToken;
        var (run, user) = await decisions.AuthorizeAsync(context, m.RunId, m.ModelId, ct);
        if (!await runs.TryTransitionAsync(run.RunId, RunState.AwaitingApproval, RunState.Rejected, detail: $"rejected by {user}: {m.Reason}", cancellationToken: ct))
        {
            throw new CommandRejectedException($"run {run.RunId} was decided concurrently");
        }

        await approvals.AddAsync(new ApprovalRecord
        {
            RunId = run.RunId, Decision = ApprovalDecision.Reject, DecidedBy = user, Mode = Storage.Repositories.ApprovalMode.Manual, Reason = m.Reason,
        }, ct);
        logger.LogInformation("Run {RunId} rejected by {Operator}: {Reason}", run.RunId, user, m.Reason);
        await context.Publish(new CandidateRejected
        {
            RunId = run.RunId, ModelId = run.ModelId, CandidateVersion = run.CandidateVersion!.Value, By = user,
            Mode = Contracts.ApprovalMode.Manual, Reasons = [m.Reason],
        }, ct);
    }
}
