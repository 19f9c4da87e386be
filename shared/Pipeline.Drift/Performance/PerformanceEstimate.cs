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
        Labelled = Labelled + other.Labelled,
        Correct = Correct + other.Correct,
    };
}

/// <summary>
/// Accuracy of the production model on a stretch of traffic against its reference: estimated from
/// calibrated confidence (always, when the version has a calibration) and observed from labels (when
/// enough feedback arrived). Drops are reference − current, in accuracy fractions; intervals are
/// normal-approximation intervals at <see cref="TriggerOptions.ConfidenceLevel"/> that include the
/// reference's own sampling error.
/// </summary>
public sealed record PerformanceEstimate
{
    /// <summary>Windows pooled into this estimate.</summary>
    public int Windows { get; init; }
    /// <summary>Rows with a valid confidence.</summary>
    public int Rows { get; init; }
    /// <summary>Accuracy on the reference holdout (null without a calibration; never NaN, reports are JSON).</summary>
    public double? ReferenceAccuracy { get; init; }
    /// <summary>CBPE: mean calibrated confidence (null without a calibration).</summary>
    public double? EstimatedAccuracy { get; init; }
    /// <summary>Lower end of the estimate's interval.</summary>
    public double? EstimatedLower { get; init; }
    /// <summary>Upper end of the estimate's interval.</summary>
    public double? EstimatedUpper { get; init; }
    /// <summary>Estimated drop against the reference (the estimator on the reference minus on this traffic).</summary>
    public double? EstimatedDrop { get; init; }
    /// <summary>Lower end of the estimated drop's interval.</summary>
    public double? EstimatedDropLower { get; init; }
    /// <summary>Labelled rows.</summary>
    public int LabelledRows { get; init; }
    /// <summary>Observed accuracy on the labelled rows (null when none).</summary>
    public double? ObservedAccuracy { get; init; }
    /// <summary>Observed drop against the reference accuracy.</summary>
    public double? ObservedDrop { get; init; }
    /// <summary>Lower end of the observed drop's interval.</summary>
    public double? ObservedDropLower { get; init; }

    /// <summary>Computes the estimate of pooled sums; null calibration leaves the CBPE fields empty.</summary>
    public static PerformanceEstimate From(PerformanceSums sums, int windows, ConfidenceCalibration? calibration, double z)
    {
        ArgumentNullException.ThrowIfNull(sums);
        var e = new PerformanceEstimate
        {
            Windows = windows, Rows = sums.Rows, LabelledRows = sums.Labelled,
            ReferenceAccuracy = calibration?.ReferenceAccuracy,
        };
        if (calibration is not null && sums.Rows > 0)
        {
            double mean = sums.SumCalibrated / sums.Rows;
            double var = Math.Max(0, sums.SumCalibratedSquared / sums.Rows - mean * mean);
            double se = Math.Sqrt(var / sums.Rows);
            double seRef = calibration.ReferenceEstimateStd / Math.Sqrt(calibration.Rows);
            double drop = calibration.ReferenceEstimatedAccuracy - mean;
            e = e with
            {
                EstimatedAccuracy = mean,
                EstimatedLower = Math.Max(0, mean - z * se),
                EstimatedUpper = Math.Min(1, mean + z * se),
                EstimatedDrop = drop,
                EstimatedDropLower = drop - z * Math.Sqrt(se * se + seRef * seRef),
            };
        }
        if (sums.Labelled > 0)
        {
            double acc = (double)sums.Correct / sums.Labelled;
            e = e with { ObservedAccuracy = acc };
            if (calibration is not null)
            {
                double r = calibration.ReferenceAccuracy;
                double se = Math.Sqrt(Bernoulli(acc) / sums.Labelled + Bernoulli(r) / calibration.Rows);
                e = e with { ObservedDrop = r - acc, ObservedDropLower = r - acc - z * se };
            }
        }
        return e;
    }

    // A proportion of exactly 0 or 1 would claim zero variance; a quarter-count keeps the interval honest.
    private static double Bernoulli(double p) => Math.Max(p * (1 - p), 0.25 / 100);
}
