using System.Text.Json.Serialization;

namespace Pipeline.Drift.Performance;

/// <summary>
/// The label-free accuracy estimators, all calibrated on the version's labelled reference holdout:
/// <list type="bullet">
/// <item><c>cbpe</c>: mean temperature-scaled top-class confidence (confidence-based performance estimation);</item>
/// <item><c>atc</c>: average thresholded confidence (Garg et al. 2022) on the top-class confidence;</item>
/// <item><c>doc</c>: difference of confidences, holdout accuracy minus the fall in mean raw confidence;</item>
/// <item><c>iw</c>: importance weighting of the holdout's outcomes by a domain classifier between the
/// holdout and the traffic (<see cref="ImportanceWeighting"/>);</item>
/// <item><c>bbse</c>: black-box shift estimation of the traffic's class mix from its predicted classes
/// (<see cref="LabelShiftCalibration"/>); not in the median (docs/decisions.md 146).</item>
/// </list>
/// </summary>
public static class AccuracyEstimators
{
    /// <summary>Temperature-scaled confidence.</summary>
    public const string Cbpe = "cbpe";
    /// <summary>Average thresholded confidence.</summary>
    public const string Atc = "atc";
    /// <summary>Difference of confidences.</summary>
    public const string Doc = "doc";
    /// <summary>Importance weighting with a domain classifier.</summary>
    public const string Iw = "iw";
    /// <summary>Black-box shift estimation (label shift).</summary>
    public const string Bbse = "bbse";
    /// <summary>The median of cbpe, atc, doc and iw (accuracy, drop and interval ends each the median): robust to one failing.</summary>
    public const string Median = "median";

    /// <summary>Every name, in report order.</summary>
    public static readonly IReadOnlyList<string> Names = [Cbpe, Atc, Doc, Iw, Bbse, Median];

    /// <summary>Whether the name is an estimator.</summary>
    public static bool IsKnown(string? name) => name is not null && Names.Contains(name, StringComparer.Ordinal);

    /// <summary>One line that says what is wrong with a configured name, or null when it is known.</summary>
    public static string? Problem(string? name, string setting) => IsKnown(name)
        ? null
        : $"{setting} '{name}' is not an accuracy estimator: use one of {string.Join(", ", Names)}.";

    /// <summary>
    /// Every estimator computable from the pooled sums, with its interval at normal quantile <paramref name="z"/>.
    /// Estimators the calibration cannot support (an old profile without ATC or holdout sample) are left out.
    /// </summary>
    public static List<EstimatorResult> Evaluate(PerformanceSums s, ConfidenceCalibration c, double z)
    {
        ArgumentNullException.ThrowIfNull(s);
        ArgumentNullException.ThrowIfNull(c);
        var list = new List<EstimatorResult>(4);
        if (s.Rows == 0) return list;
        int n = s.Rows;
        double accRef = c.ReferenceAccuracy;
        double seAccRef = Math.Sqrt(Bernoulli(accRef) / c.Rows);

        double cbpe = s.SumCalibrated / n;
        double seCbpe = Math.Sqrt(Math.Max(0, s.SumCalibratedSquared / n - cbpe * cbpe) / n);
        list.Add(Result(Cbpe, cbpe, seCbpe, c.ReferenceEstimatedAccuracy - cbpe, c.ReferenceEstimateStd / Math.Sqrt(c.Rows), z));

        if (c.Atc is { } atc)
        {
            double p = (double)s.AtcAbove / n;
            double est = p + (atc.ReferenceAccuracy - atc.ReferenceLevel);
            list.Add(Result(Atc, est, Math.Sqrt(Bernoulli(p) / n), atc.ReferenceLevel - p, seAccRef, z));
        }

        if (s.SumConfidence > 0)
        {
            double mc = s.SumConfidence / n;
            double seMc = Math.Sqrt(Math.Max(0, s.SumConfidenceSquared / n - mc * mc) / n);
            double drop = c.ReferenceMeanConfidence - mc;
            double seRef = Math.Sqrt(seAccRef * seAccRef + c.ReferenceConfidenceStd * c.ReferenceConfidenceStd / c.Rows);
            list.Add(Result(Doc, accRef - drop, seMc, drop, seRef, z));
        }

        if (s.IwRows > 0)
        {
            double est = s.IwWeighted / s.IwRows;
            double se = Math.Sqrt(s.IwVariance) / s.IwRows;
            // The weighted holdout already carries the holdout's sampling error; the drop's reference is the same rows.
            list.Add(Result(Iw, est, se, accRef - est, 0, z) with { EffectiveRows = s.IwEffectiveRows });
        }
        var four = list.ToList();
        if (c.LabelShift is { } ls && s.PredictedClasses is { } classes && ls.EstimateWithError(classes) is var (bbse, seBbse))
        {
            // The bootstrap's error covers the holdout's confusion and the traffic; the drop adds the holdout's accuracy.
            list.Add(Result(Bbse, bbse, seBbse, accRef - bbse, seAccRef, z));
        }
        list.Add(new EstimatorResult
        {
            Name = Median, Accuracy = Mid(four, r => r.Accuracy), Lower = Mid(four, r => r.Lower), Upper = Mid(four, r => r.Upper),
            Drop = Mid(four, r => r.Drop), DropLower = Mid(four, r => r.DropLower), DropUpper = Mid(four, r => r.DropUpper),
        });
        return list;
    }

    private static double Mid(List<EstimatorResult> list, Func<EstimatorResult, double> f)
    {
        var v = list.Select(f).Order().ToArray();
        return v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
    }

    private static EstimatorResult Result(string name, double accuracy, double se, double drop, double seRef, double z)
    {
        double seDrop = Math.Sqrt(se * se + seRef * seRef);
        return new EstimatorResult
        {
            Name = name, Accuracy = accuracy,
            Lower = Math.Max(0, accuracy - z * se), Upper = Math.Min(1, accuracy + z * se),
            Drop = drop, DropLower = drop - z * seDrop, DropUpper = drop + z * seDrop,
        };
    }

    // A proportion of exactly 0 or 1 would claim zero variance; a quarter-count keeps the interval honest.
    internal static double Bernoulli(double p) => Math.Max(p * (1 - p), 0.25 / 100);
}

/// <summary>One estimator's accuracy and drop against the reference, each with its interval.</summary>
public sealed record EstimatorResult
{
    /// <summary>Estimator name (<see cref="AccuracyEstimators"/>).</summary>
    public required string Name { get; init; }
    /// <summary>Estimated accuracy.</summary>
    public double Accuracy { get; init; }
    /// <summary>Lower end of the accuracy interval.</summary>
    public double Lower { get; init; }
    /// <summary>Upper end of the accuracy interval.</summary>
    public double Upper { get; init; }
    /// <summary>Estimated drop against the reference.</summary>
    public double Drop { get; init; }
    /// <summary>Lower end of the drop's interval (the reference's sampling error included).</summary>
    public double DropLower { get; init; }
    /// <summary>Upper end of the drop's interval.</summary>
    public double DropUpper { get; init; }
    /// <summary>Importance weighting: the effective number of holdout rows behind the estimate.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? EffectiveRows { get; init; }
}
