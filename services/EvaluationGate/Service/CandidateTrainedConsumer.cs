using System.Text.Json;
using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pipeline.Adaptation;
using Pipeline.Contracts;
using Pipeline.Hosting;
using Pipeline.ML.Evaluation;
using Pipeline.Storage.Artifacts;
using Pipeline.Storage.Repositories;

namespace Pipeline.EvaluationGate;

/// <summary>
/// CandidateTrained → candidate and production measured on the shifted holdout, the reference
/// holdout and latency → CandidateEvaluated, then CandidateApproved, CandidateRejected or
/// ApprovalRequested.
/// </summary>
public sealed class CandidateTrainedConsumer(
    IAdaptationRunRepository runs, IModelRegistry registry, IEvaluationRepository evaluations, IApprovalRepository approvals,
    ModelArtifacts models, DatasetArtifacts datasets, IOptions<GateOptions> options, TimeProvider time,
    ILogger<CandidateTrainedConsumer> logger)
    : IConsumer<CandidateTrained>
{
    public const string GateUser = "evaluation-gate";

    public async Task Consume(ConsumeContext<CandidateTrained> context)
    {
        var m = context.Message;
        var ct = context.CancellationToken;
        var o = options.Value;
        if (await RunStages.ClaimAsync(runs, context, logger, m.RunId, m.ModelId, RunState.Tuning, RunState.Evaluating,
                new RunUpdate { CandidateVersion = m.CandidateVersion, Strategy = m.Strategy }, $"candidate v{m.CandidateVersion}", ct) is null)
        {
            return;
        }

        GateMeasurements measured;
        int productionVersion;
        try
        {
            productionVersion = (await registry.GetProductionAsync(m.ModelId, ct))?.Version
                ?? throw new ModelNotFoundException($"{m.ModelId} has no production version");
            measured = await MeasureAsync(m, productionVersion, o, ct);
        }
        catch (Exception ex) when (ex is ModelNotFoundException or ArtifactStoreException or InvalidDataException)
        {
            await RunFailures.FailAsync(runs, context, logger, m.RunId, m.ModelId, "evaluate", ex.Message, ct);
            return;
        }

        var (decision, reasons) = GatePolicy.Decide(measured, o);
        logger.LogInformation(
            "Run {RunId}: candidate v{Candidate} vs production v{Production}: shifted {ShiftedBefore:P1} → {ShiftedAfter:P1}, original {OriginalBefore:P1} → {OriginalAfter:P1}: {Decision}",
            m.RunId, m.CandidateVersion, productionVersion, measured.ShiftedBefore, measured.ShiftedAfter,
            measured.OriginalBefore, measured.OriginalAfter, decision);

        await evaluations.UpsertAsync(new EvaluationRecord
        {
            RunId = m.RunId, CandidateVersion = m.CandidateVersion, ProductionVersion = productionVersion,
            AccOriginalBefore = measured.OriginalBefore, AccOriginalAfter = measured.OriginalAfter,
            AccShiftedBefore = measured.ShiftedBefore, AccShiftedAfter = measured.ShiftedAfter,
            Forgetting = measured.Forgetting, LatencyMs = measured.LatencyMsAfter,
            Decision = decision.ToString(), ReasonsJson = JsonSerializer.Serialize(reasons),
        }, ct);

        await context.Publish(new CandidateEvaluated
        {
            RunId = m.RunId, ModelId = m.ModelId, CandidateVersion = m.CandidateVersion, ProductionVersion = productionVersion,
            ShiftedAccuracyBefore = measured.ShiftedBefore, ShiftedAccuracyAfter = measured.ShiftedAfter,
            OriginalAccuracyBefore = measured.OriginalBefore, OriginalAccuracyAfter = measured.OriginalAfter,
            Forgetting = measured.Forgetting, LatencyMsBefore = measured.LatencyMsBefore, LatencyMsAfter = measured.LatencyMsAfter,
            Decision = decision, Reasons = reasons,
        }, ct);

        var summary = string.Join("; ", reasons);
        var next = decision switch
        {
            GateDecision.Approve => RunState.Deploying,
            GateDecision.Reject => RunState.Rejected,
            _ => RunState.AwaitingApproval,
        };
        if (!await runs.TryTransitionAsync(m.RunId, RunState.Evaluating, next,
                detail: decision == GateDecision.Approve ? "approved automatically" : summary, cancellationToken: ct))
        {
            return;
        }

        if (decision == GateDecision.AskOperator)
        {
            var now = time.GetUtcNow();
            await context.Publish(new ApprovalRequested
            {
                RunId = m.RunId, ModelId = m.ModelId, CandidateVersion = m.CandidateVersion, Reasons = reasons,
                ExpiresAt = now + o.ApprovalTimeout, Timestamp = now,
            }, ct);
            return;
        }

        var approve = decision == GateDecision.Approve;
        if (!approve)
        {
            PipelineMetrics.RunsFinished.WithLabels(m.ModelId, "rejected").Inc();
        }

        await approvals.AddAsync(new ApprovalRecord
        {
            RunId = m.RunId, Decision = approve ? ApprovalDecision.Auto : ApprovalDecision.Reject, DecidedBy = GateUser,
            Mode = Storage.Repositories.ApprovalMode.Auto, Reason = summary,
        }, ct);
        object verdict = approve
            ? new CandidateApproved
            {
                RunId = m.RunId, ModelId = m.ModelId, CandidateVersion = m.CandidateVersion, By = GateUser, Mode = Contracts.ApprovalMode.Auto, Reasons = reasons,
            }
            : new CandidateRejected
            {
                RunId = m.RunId, ModelId = m.ModelId, CandidateVersion = m.CandidateVersion, By = GateUser, Mode = Contracts.ApprovalMode.Auto, Reasons = reasons,
            };
        await context.Publish(verdict, ct);
    }

    private async Task<GateMeasurements> MeasureAsync(CandidateTrained m, int productionVersion, GateOptions o, CancellationToken ct)
    {
        var (production, productionRecord) = await models.LoadAsync(m.ModelId, productionVersion, o.Device, ct);
        using var productionModel = production;
        var (candidate, _) = await models.LoadAsync(m.ModelId, m.CandidateVersion, o.Device, ct);
        using var candidateModel = candidate;

        var referenceRef = VersionMetadata.Parse(productionRecord.MetadataJson).ReferenceHoldout
            ?? throw new InvalidDataException($"{m.ModelId} v{productionVersion} has no reference holdout in its metadata");
        using var shifted = DatasetArtifacts.ToDataset(await datasets.LoadAsync(m.ShiftedHoldout, ct), production.Info.InputShape);
        using var original = DatasetArtifacts.ToDataset(await datasets.LoadAsync(referenceRef, ct), production.Info.InputShape);

        var shiftedBefore = Evaluator.Evaluate(productionModel, shifted).Accuracy;
        var shiftedAfter = Evaluator.Evaluate(candidateModel, shifted).Accuracy;
        var originalBefore = Evaluator.Evaluate(productionModel, original).Accuracy;
        var originalAfter = Evaluator.Evaluate(candidateModel, original).Accuracy;
        var (latencyBefore, latencyAfter) = MeasureLatency(productionModel, candidateModel, o);
        return new GateMeasurements(shiftedBefore, shiftedAfter, originalBefore, originalAfter, latencyBefore, latencyAfter);
    }

    /// <summary>
    /// Interleaved rounds (each the median of a few batches), and the fastest round of each model is
    /// compared: other load on the machine only ever adds time, so the minimum is the model's own
    /// cost, which is what a latency regression check is about.
    /// </summary>
    private static (double Before, double After) MeasureLatency(ML.Models.ModelBundle production, ML.Models.ModelBundle candidate, GateOptions o)
    {
        var before = new double[o.LatencyRounds];
        var after = new double[o.LatencyRounds];
        for (var r = 0; r < o.LatencyRounds; r++)
        {
            before[r] = Evaluator.MeasureLatency(production, o.LatencyBatchSize, iterations: 5, warmup: 1).MsPerBatch;
            after[r] = Evaluator.MeasureLatency(candidate, o.LatencyBatchSize, iterations: 5, warmup: 1).MsPerBatch;
        }

        return (before.Min(), after.Min());
    }
}
