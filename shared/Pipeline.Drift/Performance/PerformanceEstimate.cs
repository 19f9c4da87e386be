using System.Globalization;

namespace Pipeline.Drift.Performance;

/// <summary>Running sums of one or more windows: what the accuracy estimates are computed from.</summary>
public sealed record PerformanceSums
{
    /// <summary>Rows with a valid confidence.</summary>
    public int Rows { get; init; }
    /// <summary>Σ calibrated confidence.</summary>
    public double SumCalibrated { get; init; }
    /// <summary>Σ calibrated confidence².</summary>
    public double SumCalibratedSquared { get; init; }
    /// <summary>Σ raw confidence (DoC).</summary>
    public double SumConfidence { get; init; }
    /// <summary>Σ raw confidence² (DoC).</summary>
    public double SumConfidenceSquared { get; init; }
    /// <summary>Rows whose confidence is above the ATC threshold.</summary>
    public int AtcAbove { get; init; }
    /// <summary>Rows of the windows importance weighting estimated (each window is weighted on its own).</summary>
    public int IwRows { get; init; }
    /// <summary>Σ rows × the window's importance-weighted accuracy.</summary>
    public double IwWeighted { get; init; }
    /// <summary>Σ rows² × the window estimate's variance.</summary>
    public double IwVariance { get; init; }
    /// <summary>Σ effective holdout rows of the windows' weights.</summary>
    public double IwEffectiveRows { get; init; }
    /// <summary>Rows per predicted class (index = class, as many as the label-shift calibration knows; BBSE).</summary>
    public long[]? PredictedClasses { get; init; }
    /// <summary>Rows whose true label is known (in the batch or from feedback).</summary>
    public int Labelled { get; init; }
    /// <summary>Labelled rows the model got right.</summary>
    public int Correct { get; init; }

    /// <summary>Both together.</summary>
    public PerformanceSums Add(PerformanceSums other) => new()
    {
        Rows = Rows + other.Rows,
        SumCalibrated = SumCalibrated + other.SumCalibrated,
        SumCalibratedSquared = SumCalibratedSquared + other.SumCalibratedSquared,
        SumConfidence = SumConfidence + other.SumConfidence,
        SumConfidenceSquared = SumConfidenceSquared + other.SumConfidenceSquared,
        AtcAbove = AtcAbove + other.AtcAbove,
        IwRows = IwRows + other.IwRows,
        IwWeighted = IwWeighted + other.IwWeighted,
        IwVariance = IwVariance + other.IwVariance,
        IwEffectiveRows = IwEffectiveRows + other.IwEffectiveRows,
        PredictedClasses = Merge(PredictedClasses, other.PredictedClasses),
        Labelled = Labelled + other.Labelled,
        Correct = Correct + other.Correct,
    };

    private static long[]? Merge(long[]? a, long[]? b)
    {
        if (a is null || b is null) return a ?? b;
        var m = new long[Math.Max(a.Length, b.Length)];
        for (int i = 0; i < m.Length; i++) m[i] = (i < a.Length ? a[i] : 0) + (i < b.Length ? b[i] : 0);
        return m;
    }
}

/// <summary>
/// Accuracy of the production model on a stretch of traffic against its reference: estimated without
/// labels by every estimator the calibration supports (<see cref="AccuracyEstimators"/>; the product's
/// own, <see cref="TriggerOptions.Estimator"/>, fills the <c>Estimated*</c> fields) and observed from
/// labels (when enough feedback arrived). Drops are reference − current, in accuracy fractions; intervals
/// are normal-approximation intervals at <see cref="TriggerOptions.ConfidenceLevel"/> that include the
/// reference's own sampling error. <see cref="Uncertain"/> says when the estimate cannot be trusted to
/// tell harm from no harm (interval too wide, estimators disagreeing, too few rows).
/// </summary>
public sealed record PerformanceEstimate
{
    /// <summary>Windows pooled into this estimate.</summary>
    public int Windows { get; init; }
    /// <summary>Rows with a valid confidence.</summary>
    public int Rows { get; init; }
    /// <summary>Accuracy on the reference holdout (null without a calibration; never NaN, reports are JSON).</summary>
    public double? ReferenceAccuracy { get; init; }
    /// <summary>The estimator behind the <c>Estimated*</c> fields (null without an estimate).</summary>
    public string? Estimator { get; init; }
    /// <summary>Estimated accuracy (null without a calibration or with too few rows).</summary>
    public double? EstimatedAccuracy { get; init; }
    /// <summary>Lower end of the estimate's interval.</summary>
    public double? EstimatedLower { get; init; }
    /// <summary>Upper end of the estimate's interval.</summary>
    public double? EstimatedUpper { get; init; }
    /// <summary>Estimated drop against the reference (the estimator on the reference minus on this traffic).</summary>
    public double? EstimatedDrop { get; init; }
    /// <summary>Lower end of the estimated drop's interval.</summary>
    public double? EstimatedDropLower { get; init; }
    /// <summary>Upper end of the estimated drop's interval.</summary>
    public double? EstimatedDropUpper { get; init; }
    /// <summary>Every estimator's result (empty without a calibration).</summary>
    public IReadOnlyList<EstimatorResult> Estimates { get; init; } = [];
    /// <summary>Largest minus smallest estimated drop among the estimators that cross-check.</summary>
    public double? Disagreement { get; init; }
    /// <summary>Why the estimate cannot tell harm from no harm (null: it can).</summary>
    public string? Uncertain { get; init; }
    /// <summary>Labelled rows.</summary>
    public int LabelledRows { get; init; }
    /// <summary>Observed accuracy on the labelled rows (null when none).</summary>
    public double? ObservedAccuracy { get; init; }
    /// <summary>Observed drop against the reference accuracy.</summary>
    public double? ObservedDrop { get; init; }
    /// <summary>Lower end of the observed drop's interval.</summary>
    public double? ObservedDropLower { get; init; }

    /// <summary>CBPE only, at normal quantile <paramref name="z"/> (the behaviour before the other estimators).</summary>
    public static PerformanceEstimate From(PerformanceSums sums, int windows, ConfidenceCalibration? calibration, double z) =>
        From(sums, windows, calibration, new TriggerOptions { Estimator = AccuracyEstimators.Cbpe, CrossCheck = [] }, z);

    /// <summary>Computes the estimate of pooled sums; a null calibration leaves the estimated fields empty.</summary>
    public static PerformanceEstimate From(PerformanceSums sums, int windows, ConfidenceCalibration? calibration, TriggerOptions options, double? z = null)
    {
        ArgumentNullException.ThrowIfNull(sums);
        ArgumentNullException.ThrowIfNull(options);
        double q = z ?? options.Z;
        var e = new PerformanceEstimate
        {
            Windows = windows, Rows = sums.Rows, LabelledRows = sums.Labelled,
            ReferenceAccuracy = calibration?.ReferenceAccuracy,
        };
        if (calibration is not null && sums.Rows > 0 && sums.Rows < options.MinEstimateRows)
        {
            e = e with
            {
                Uncertain = string.Create(CultureInfo.InvariantCulture,
                    $"too few rows to estimate accuracy ({sums.Rows}, {options.MinEstimateRows} needed)"),
            };
        }
        else if (calibration is not null && sums.Rows > 0)
        {
            var all = AccuracyEstimators.Evaluate(sums, calibration, q);
            var chosen = all.FirstOrDefault(r => r.Name == options.Estimator) ?? all[0]; // CBPE is always there
            var checks = all.Where(r => r.Name == chosen.Name || options.CrossCheck.Contains(r.Name)).ToList();
            double spread = checks.Max(r => r.Drop) - checks.Min(r => r.Drop);
            double width = chosen.DropUpper - chosen.DropLower;
            string? uncertain = null;
            if (width > options.MaxIntervalWidth)
            {
                uncertain = Inv($"the {chosen.Name} estimate's interval is {width * 100:0.0} points wide (at most {options.MaxIntervalWidth * 100:0.0})");
            }
            else if (spread > options.MaxDisagreement)
            {
                var hi = checks.MaxBy(r => r.Drop)!;
                var lo = checks.MinBy(r => r.Drop)!;
                uncertain = Inv($"the estimators disagree by {spread * 100:0.0} points ({hi.Name} drop {hi.Drop * 100:0.0}, {lo.Name} drop {lo.Drop * 100:0.0}; at most {options.MaxDisagreement * 100:0.0})");
            }
            e = e with
            {
                Estimator = chosen.Name,
                EstimatedAccuracy = chosen.Accuracy,
                EstimatedLower = chosen.Lower,
                EstimatedUpper = chosen.Upper,
                EstimatedDrop = chosen.Drop,
                EstimatedDropLower = chosen.DropLower,
                EstimatedDropUpper = chosen.DropUpper,
                Estimates = all,
                Disagreement = spread,
                Uncertain = uncertain,
            };
        }
        if (sums.Labelled > 0)
        {
            double acc = (double)sums.Correct / sums.Labelled;
            e = e with { ObservedAccuracy = acc };
            if (calibration is not null)
            {
                double r = calibration.ReferenceAccuracy;
                double se = Math.Sqrt(AccuracyEstimators.Bernoulli(acc) / sums.Labelled + AccuracyEstimators.Bernoulli(r) / calibration.Rows);
                e = e with { ObservedDrop = r - acc, ObservedDropLower = r - acc - q * se };
            }
        }
        return e;
    }

    /// <summary>Whether every cross-checking estimator says harm: drop at least <paramref name="min"/> with its interval above zero.</summary>
    public bool AllSayHarm(TriggerOptions options, double min)
    {
        ArgumentNullException.ThrowIfNull(options);
        var checks = Estimates.Where(r => r.Name == Estimator || options.CrossCheck.Contains(r.Name)).ToList();
        return checks.Count > 0 && checks.All(r => r.Drop >= min && r.DropLower > 0);
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
