using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pipeline.Contracts;
using Pipeline.Storage.Repositories;

namespace Pipeline.EvaluationGate;

/// <summary>Approval requests nobody answered in time become rejections (mode Expired).</summary>
public sealed class ApprovalExpiry(
    IServiceScopeFactory scopes, IOptions<GateOptions> options, TimeProvider time, ILogger<ApprovalExpiry> logger)
    : PeriodicService(time, logger)
{
    protected override TimeSpan Interval => options.Value.ExpiryCheckInterval;

    public override async Task RunOnceAsync(CancellationToken ct)
    {
        using var scope = scopes.CreateScope();
        var runs = scope.ServiceProvider.GetRequiredService<IAdaptationRunRepository>();
        var approvals = scope.ServiceProvider.GetRequiredService<IApprovalRepository>();
        var publish = scope.ServiceProvider.GetRequiredService<IPublishEndpoint>();
        var timeout = options.Value.ApprovalTimeout;
        var now = Time.GetUtcNow();
        foreach (var run in await runs.ListActiveAsync(ct))
        {
            if (run.State != RunState.AwaitingApproval || (run.AwaitingApprovalAt ?? run.UpdatedAt) + timeout > now)
            {
                continue;
            }

            var reason = $"approval expired: nobody decided within {timeout}";
            if (!await runs.TryTransitionAsync(run.RunId, RunState.AwaitingApproval, RunState.Rejected, detail: reason, cancellationToken: ct))
            {
                continue;
            }

            await approvals.AddAsync(new ApprovalRecord
            {
                RunId = run.RunId, Decision = ApprovalDecision.Expired, DecidedBy = CandidateTrainedConsumer.GateUser,
                Mode = Storage.Repositories.ApprovalMode.Auto, Reason = reason,
            }, ct);
            logger.LogWarning("Run {RunId} of {ModelId}: {Reason}", run.RunId, run.ModelId, reason);
            PipelineMetrics.RunsFinished.WithLabels(run.ModelId, "rejected").Inc();
            await publish.Publish(new CandidateRejected
            {
                RunId = run.RunId, ModelId = run.ModelId, CandidateVersion = run.CandidateVersion ?? run.BaseVersion + 1,
                By = CandidateTrainedConsumer.GateUser, Mode = Contracts.ApprovalMode.Expired, Reasons = [reason],
            }, ct);
        }
    }
}
