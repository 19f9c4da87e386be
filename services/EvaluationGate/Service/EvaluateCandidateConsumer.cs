using System.Text.Json;
using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pipeline.Artifacts;
using Pipeline.AdaptationRuns;
using Pipeline.Contracts;
using Pipeline.Hosting;
using Pipeline.ML.Evaluation;
using Pipeline.Storage.Repositories;

namespace Pipeline.EvaluationGate;

/// <summary>
/// EvaluateCandidate → candidate and the run's base version measured on the shifted holdout, the
/// reference holdout and latency → the policy's decision → CandidateEvaluated. The run's owner acts
/// on the decision; measuring twice stores the same evaluation again.
/// </summary>
public sealed class EvaluateCandidateConsumer(
    StageWork stage, IEvaluationRepository evaluations, ModelArtifacts models, DatasetArtifacts datasets,
    IOptions<GateOptions> options, ILogger<EvaluateCandidateConsumer> logger)
    : IConsumer<EvaluateCandidate>
{
    // A measurement that cannot be made drops only this candidate out of a tournament.
    public Task Consume(ConsumeContext<EvaluateCandidate> context) =>
        stage.DoAsync(context, context.Message, RunStage.Evaluate, context.Message.Attempt, () => EvaluateAsync(context, context.Message),
            ArtifactFailures.IsKnown, failed: context.Message.Strategy);

    private async Task EvaluateAsync(ConsumeContext context, EvaluateCandidate m)
    {
        var ct = context.CancellationToken;
        var o = options.Value;
        var measured = await MeasureAsync(m, o, ct);
        if (GatePolicy.InsufficientData(measured.Shifted.Count, measured.Original.Count, o) is { } tooLittle)
        {
            await stage.FailAsync(context, m, RunStage.Evaluate, tooLittle);
            return;
        }

        var (decision, reasons) = GatePolicy.Decide(measured, o);
        GateMetrics.Record(m.ModelId, measured, decision.ToString());
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
            GainLower = measured.GainInterval.Lower, GainUpper = measured.GainInterval.Upper,
            ForgettingLower = measured.ForgettingInterval.Lower, ForgettingUpper = measured.ForgettingInterval.Upper,
            Confidence = o.Confidence, ShiftedRows = measured.Shifted.Count, OriginalRows = measured.Original.Count,
            Decision = decision.ToString(), ReasonsJson = JsonSerializer.Serialize(reasons),
        }, ct);

        await context.Publish(new CandidateEvaluated
        {
            RunId = m.RunId, ModelId = m.ModelId, CandidateVersion = m.CandidateVersion, Strategy = m.Strategy, ProductionVersion = m.BaseVersion,
            ShiftedAccuracyBefore = measured.ShiftedBefore, ShiftedAccuracyAfter = measured.ShiftedAfter,
            OriginalAccuracyBefore = measured.OriginalBefore, OriginalAccuracyAfter = measured.OriginalAfter,
            Forgetting = measured.Forgetting, LatencyMsBefore = measured.LatencyMsBefore, LatencyMsAfter = measured.LatencyMsAfter,
            LatencyJudged = measured.Latency.Judged,
            LatencyIncreaseInterval = measured.Latency.Comparison is { Pairs: > 1 } lat
                ? new ConfidenceInterval { Lower = lat.Lower, Upper = lat.Upper, Level = lat.Confidence } : null,
            GainInterval = new ConfidenceInterval { Lower = measured.GainInterval.Lower, Upper = measured.GainInterval.Upper, Level = o.Confidence },
            ForgettingInterval = new ConfidenceInterval { Lower = measured.ForgettingInterval.Lower, Upper = measured.ForgettingInterval.Upper, Level = o.Confidence },
            ShiftedRows = measured.Shifted.Count, OriginalRows = measured.Original.Count,
            Decision = decision, Reasons = reasons,
        }, ct);
    }

    private async Task<GateMeasurements> MeasureAsync(EvaluateCandidate m, GateOptions o, CancellationToken ct)
    {
        var (baseBundle, baseRecord) = await models.LoadAsync(m.ModelId, m.BaseVersion, o.Device, ct);
        using var baseModel = baseBundle;
        var (candidate, _) = await models.LoadAsync(m.ModelId, m.CandidateVersion, o.Device, ct);
        using var candidateModel = candidate;

        var referenceRef = VersionMetadata.Parse(baseRecord.MetadataJson).ReferenceHoldout
            ?? throw new InvalidDataException($"{m.ModelId} v{m.BaseVersion} has no reference holdout in its metadata");
        using var shifted = DatasetArtifacts.ToDataset(await datasets.LoadAsync(m.ShiftedHoldout, ct), baseBundle.Info.InputShape);
        using var original = DatasetArtifacts.ToDataset(await datasets.LoadAsync(referenceRef, ct), baseBundle.Info.InputShape);

        var settings = new GateMeasurementSettings(o.Confidence, GatePolicy.ClassConfidence(o, baseBundle.Info.Classes.Length),
            o.LatencyBatchSize, o.LatencyPairs, o.AlwaysJudgeLatency, TimeSpan.FromSeconds(o.LatencyQuietWaitSeconds));
        return ComputeClock.Time(() => GateMeasurement.Measure(baseModel, candidateModel, shifted, original, settings));
    }
}
