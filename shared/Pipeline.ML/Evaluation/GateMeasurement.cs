using Pipeline.ML.Data;
using Pipeline.ML.Models;

namespace Pipeline.ML.Evaluation;

/// <summary>
/// Latency as the gate took it. <see cref="ComputeChanges"/> empty: the candidate runs the same operations on the same
/// shapes as production (weights merged or retrained in place, a prototype folded into the classifier), so its
/// latency is production's by construction and is not judged; <see cref="Comparison"/> is then null and
/// <see cref="ProductionMs"/> is production's own time. Otherwise a paired comparison with an interval, taken while
/// no candidate trained in the process (<see cref="Quiet"/> false: the wait ran out and it was taken anyway).
/// </summary>
public sealed record LatencyJudgement(IReadOnlyList<string> ComputeChanges, LatencyComparison? Comparison, double ProductionMs, bool Quiet = true)
{
    public bool Judged => Comparison is not null;

    /// <summary>Same compute: nothing to judge.</summary>
    public static LatencyJudgement Unchanged(double productionMs) => new([], null, productionMs);

    /// <summary>A comparison from two single figures (tests and older records): a zero-width interval.</summary>
    public static LatencyJudgement Point(double before, double after, params string[] changes)
    {
        var increase = before <= 0 ? 0 : (after - before) / before;
        return new(changes.Length > 0 ? changes : ["compute changed"], new LatencyComparison(before, after, increase, increase, increase, 1, 0.95), before);
    }
}

/// <summary>
/// Production and candidate measured on the same rows: the shifted holdout, the original-distribution
/// holdout, per class of the original holdout, and latency (judged only when the compute changed).
/// </summary>
public sealed record GateMeasurements(
    PairedDifference Shifted, PairedDifference Original, IReadOnlyList<PairedDifference> OriginalByClass, LatencyJudgement Latency)
{
    public double ShiftedBefore => Shifted.BaselineAccuracy;

    public double ShiftedAfter => Shifted.CandidateAccuracy;

    public double OriginalBefore => Original.BaselineAccuracy;

    public double OriginalAfter => Original.CandidateAccuracy;

    public double Gain => Shifted.Difference;

    public (double Lower, double Upper) GainInterval => (Shifted.Lower, Shifted.Upper);

    public double Forgetting => -Original.Difference;

    /// <summary>Forgetting is the negated difference, so its interval is the difference's, negated and swapped.</summary>
    public (double Lower, double Upper) ForgettingInterval => (-Original.Upper, -Original.Lower);

    public double LatencyMsBefore => Latency.Comparison?.MsBefore ?? Latency.ProductionMs;

    /// <summary>Not judged (same compute): production's time, which is the candidate's by construction.</summary>
    public double LatencyMsAfter => Latency.Comparison?.MsAfter ?? Latency.ProductionMs;

    /// <summary>Relative increase (paired estimate); 0 when not judged.</summary>
    public double LatencyIncrease => Latency.Comparison?.Increase ?? 0;
}

/// <summary>How the gate measures: the intervals' confidence (per class: Bonferroni-corrected) and the latency comparison.</summary>
public sealed record GateMeasurementSettings(
    double Confidence, double ClassConfidence, int LatencyBatchSize, int LatencyPairs, bool AlwaysJudgeLatency, TimeSpan LatencyQuietWait);

public static class GateMeasurement
{
    /// <summary>The gate's compute: both models on both holdouts, paired, and their latency.</summary>
    public static GateMeasurements Measure(ModelBundle production, ModelBundle candidate, ImageDataset shifted, ImageDataset original, GateMeasurementSettings s)
    {
        var truthOriginal = original.LabelArray();
        var productionOriginal = Correct(production, original, truthOriginal);
        var candidateOriginal = Correct(candidate, original, truthOriginal);
        var truthShifted = shifted.LabelArray();
        var shiftedDifference = PairedComparison.Compare(
            Correct(production, shifted, truthShifted), Correct(candidate, shifted, truthShifted), s.Confidence);
        var originalDifference = PairedComparison.Compare(productionOriginal, candidateOriginal, s.Confidence);
        var byClass = PairedComparison.CompareByClass(
            productionOriginal, candidateOriginal, truthOriginal, production.Info.Classes.Length, s.ClassConfidence);
        return new GateMeasurements(shiftedDifference, originalDifference, byClass, MeasureLatency(production, candidate, s));
    }

    /// <summary>Per row: is the model's top class the label? Both models are judged on the same rows (paired).</summary>
    private static bool[] Correct(ModelBundle model, ImageDataset data, long[] truth)
    {
        using var probabilities = model.PredictProbabilities(data.Images);
        using var predicted = probabilities.argmax(1).cpu();
        var classes = predicted.data<long>().ToArray();
        return classes.Select((c, i) => c == truth[i]).ToArray();
    }

    /// <summary>
    /// Latency only when the compute changed (ComputeSignature); then a paired comparison with an interval, taken under
    /// the process's exclusive lease (no candidate trains in this process meanwhile).
    /// </summary>
    private static LatencyJudgement MeasureLatency(ModelBundle production, ModelBundle candidate, GateMeasurementSettings s)
    {
        var changes = ComputeSignature.Differences(production, candidate);
        if (changes.Count == 0 && !s.AlwaysJudgeLatency)
        {
            return LatencyJudgement.Unchanged(Evaluator.MeasureLatency(production, s.LatencyBatchSize, iterations: 5, warmup: 1).MsPerBatch);
        }

        using var quiet = ProcessCompute.Quiet(s.LatencyQuietWait);
        var comparison = LatencyComparison.Measure(production, candidate, s.LatencyBatchSize, s.LatencyPairs, warmup: 3, s.Confidence);
        return new LatencyJudgement(changes.Count > 0 ? changes : ["none (Gate:AlwaysJudgeLatency)"], comparison, comparison.MsBefore, quiet is not null);
    }
}
