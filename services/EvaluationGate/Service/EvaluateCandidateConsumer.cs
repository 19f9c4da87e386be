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
/// EvaluateCandidate → candidate and the run's base version measured on the shifted holdout, the
/// reference holdout and latency → the policy's decision → CandidateEvaluated. The run's owner acts
/// on the decision; measuring twice stores the same evaluation again.
/// </summary>
public sealed class EvaluateCandidateConsumer(
    IAdaptationRunRepository runs, IEvaluationRepository evaluations, ModelArtifacts models, DatasetArtifacts datasets,
    IOptions<GateOptions> options, ILogger<EvaluateCandidateConsumer> logger)
    : IConsumer<EvaluateCandidate>
{
    public async Task Consume(ConsumeContext<EvaluateCandidate> context)
    {
        var m = context.Message;
        var ct = context.CancellationToken;
        var o = options.Value;
        if (!await StageWork.IsWantedAsync(runs, m, m.Attempt, logger, ct))
        {
            return;
        }

        GateMeasurements measured;
        try
        {
            measured = await MeasureAsync(m, o, ct);
        }
        catch (Exception ex) when (ex is ModelNotFoundException or ArtifactStoreException or InvalidDataException)
        {
            await StageWork.FailAsync(context, logger, m, "evaluate", ex.Message);
            return;
        }

        var (decision, reasons) = GatePolicy.Decide(measured, o);
        logger.LogInformation(
            "Run {RunId}: candidate v{Candidate} vs base v{Base}: shifted {ShiftedBefore:P1} → {ShiftedAfter:P1}, original {OriginalBefore:P1} → {OriginalAfter:P1}: {Decision}",
            m.RunId, m.CandidateVersion, m.BaseVersion, measured.ShiftedBefore, measured.ShiftedAfter,
            measured.OriginalBefore, measured.OriginalAfter, decision);

        await evaluations.UpsertAsync(new EvaluationRecord
        {
            RunId = m.RunId, CandidateVersion = m.CandidateVersion, ProductionVersion = m.BaseVersion,
            AccOriginalBefore = measured.OriginalBefore, AccOriginalAfter = measured.OriginalAfter,
            AccShiftedBefore = measured.ShiftedBefore, AccShiftedAfter = measured.ShiftedAfter,
            Forgetting = measured.Forgetting, LatencyMs = measured.LatencyMsAfter,
            Decision = decision.ToString(), ReasonsJson = JsonSerializer.Serialize(reasons),
        }, ct);

        await context.Publish(new CandidateEvaluated
        {
            RunId = m.RunId, ModelId = m.ModelId, CandidateVersion = m.CandidateVersion, ProductionVersion = m.BaseVersion,
            ShiftedAccuracyBefore = measured.ShiftedBefore, ShiftedAccuracyAfter = measured.ShiftedAfter,
            OriginalAccuracyBefore = measured.OriginalBefore, OriginalAccuracyAfter = measured.OriginalAfter,
            Forgetting = measured.Forgetting, LatencyMsBefore = measured.LatencyMsBefore, LatencyMsAfter = measured.LatencyMsAfter,
            Decision = decision, Reasons = reasons,
        }, ct);
    }

    private async Task<GateMeasurements> MeasureAsync(EvaluateCandidate m, GateOptions o, CancellationToken ct)
    {
        var (production, productionRecord) = await models.LoadAsync(m.ModelId, m.BaseVersion, o.Device, ct);
        using var productionModel = production;
        var (candidate, _) = await models.LoadAsync(m.ModelId, m.CandidateVersion, o.Device, ct);
        using var candidateModel = candidate;

        var referenceRef = VersionMetadata.Parse(productionRecord.MetadataJson).ReferenceHoldout
            ?? throw new InvalidDataException($"{m.ModelId} v{m.BaseVersion} has no reference holdout in its metadata");
        using var shifted = DatasetArtifacts.ToDataset(await datasets.LoadAsync(m.ShiftedHoldout, ct));
        using var original = DatasetArtifacts.ToDataset(await datasets.LoadAsync(referenceRef, ct));

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
