using System.Globalization;

namespace Pipeline.Drift.Performance;

/// <summary>
/// Average thresholded confidence (ATC; Garg et al., ICLR 2022). On the labelled reference holdout a
/// threshold t is chosen so that the share of rows scoring above t equals the holdout's accuracy; on new
/// traffic the estimated accuracy is the share of rows scoring above t. The score is any per-row
/// confidence: the top-class probability (ATC-MC) or the negative entropy of the class probabilities
/// (ATC-NE). Monotone recalibration does not change it, so it needs no temperature.
/// </summary>
public sealed record AtcThreshold
{
    /// <summary>The threshold: rows scoring strictly above it count as "right".</summary>
    public double Threshold { get; init; }
    /// <summary>Holdout rows it was fitted on.</summary>
    public int Rows { get; init; }
    /// <summary>Accuracy of the holdout (the share the threshold reproduces).</summary>
    public double ReferenceAccuracy { get; init; }
    /// <summary>Share of holdout rows above the threshold (equal to the accuracy up to ties).</summary>
    public double ReferenceLevel { get; init; }

    /// <summary>Fits the threshold; non-finite scores are skipped. Throws <see cref="DriftInputException"/> below <see cref="ConfidenceCalibration.MinRows"/> rows.</summary>
    public static AtcThreshold Fit(IReadOnlyList<double> scores, IReadOnlyList<bool> correct)
    {
        ArgumentNullException.ThrowIfNull(scores);
        ArgumentNullException.ThrowIfNull(correct);
        if (scores.Count != correct.Count)
            throw new DriftInputException($"ATC needs one outcome per score ({scores.Count} vs {correct.Count})");
        var s = new List<double>(scores.Count);
        int hits = 0;
        for (int i = 0; i < scores.Count; i++)
        {
            if (!double.IsFinite(scores[i])) continue;
            s.Add(scores[i]);
            if (correct[i]) hits++;
        }
        if (s.Count < ConfidenceCalibration.MinRows)
            throw new DriftInputException(string.Create(CultureInfo.InvariantCulture,
                $"ATC needs at least {ConfidenceCalibration.MinRows} labelled reference rows, got {s.Count}"));
        s.Sort();
        s.Reverse(); // descending
        int n = s.Count;
        double accuracy = (double)hits / n;
        // k rows above t: t between the k-th and (k+1)-th highest scores.
        double t = hits == 0 ? s[0] : hits == n ? double.NegativeInfinity : (s[hits - 1] + s[hits]) / 2;
        if (hits > 0 && hits < n && s[hits - 1] == s[hits])
        {
            // Tied at the cut: put the tie where the share above comes closest to the accuracy.
            double v = s[hits];
            int above = s.Count(x => x > v), atOrAbove = s.Count(x => x >= v);
            double below = atOrAbove < n ? s.First(x => x < v) : double.NegativeInfinity;
            t = Math.Abs(above - hits) <= Math.Abs(atOrAbove - hits) ? v : (v + below) / 2;
        }
        double level = s.Count(x => x > t) / (double)n;
        if (double.IsNegativeInfinity(t)) t = -double.MaxValue;
        return new AtcThreshold { Threshold = t, Rows = n, ReferenceAccuracy = accuracy, ReferenceLevel = level };
    }

    /// <summary>Whether a row's score counts as "right".</summary>
    public bool Above(double score) => double.IsFinite(score) && score > Threshold;

    /// <summary>The estimated accuracy of rows with these scores (NaN when none is finite).</summary>
    public double Estimate(IEnumerable<double> scores)
    {
        ArgumentNullException.ThrowIfNull(scores);
        int n = 0, above = 0;
        foreach (double v in scores)
        {
            if (!double.IsFinite(v)) continue;
            n++;
            if (v > Threshold) above++;
        }
        return n == 0 ? double.NaN : (double)above / n;
    }

    /// <summary>Throws <see cref="DriftInputException"/> when the stored values cannot be used.</summary>
    public void Validate()
    {
        if (double.IsNaN(Threshold) || Rows < 1 || ReferenceAccuracy is < 0 or > 1 || ReferenceLevel is < 0 or > 1)
            throw new DriftInputException("ATC threshold, rows and levels must be valid");
    }

    /// <summary>Negative entropy of a probability vector (ATC-NE's score; 0 for a one-hot vector, −ln k for uniform).</summary>
    public static double NegativeEntropy(ReadOnlySpan<float> probabilities)
    {
        double h = 0;
        foreach (float p in probabilities)
        {
            if (p > 0) h -= p * Math.Log(p);
        }
        return -h;
    }
}
