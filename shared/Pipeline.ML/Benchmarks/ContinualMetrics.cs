namespace Pipeline.ML.Benchmarks;

/// <summary>Summary metrics of one method over a regime sequence.</summary>
public sealed record ContinualSummary(double AvgAcc, double Forgetting, double MaxForgetting, double Bwt);

/// <summary>
/// Continual-learning metrics of an accuracy matrix. <c>acc[t][j]</c> is the accuracy on regime j
/// (0 = original distribution) after adapting to regime t+1; <c>baseAcc[j]</c> is the base model's accuracy
/// on regime j before any adaptation. With T adaptations the matrix is T × (T+1).
/// </summary>
public static class ContinualMetrics
{
    /// <summary>Computes avg_acc, forgetting, max_forgetting and bwt (definitions in docs/ml.md).</summary>
    public static ContinualSummary Compute(IReadOnlyList<IReadOnlyList<double>> acc, IReadOnlyList<double> baseAcc)
    {
        ArgumentNullException.ThrowIfNull(acc);
        ArgumentNullException.ThrowIfNull(baseAcc);
        var t = acc.Count;
        if (t == 0) throw new ArgumentException("the accuracy matrix has no rows", nameof(acc));
        var cols = t + 1;
        if (acc.Any(r => r.Count != cols)) throw new ArgumentException($"every row needs {cols} columns (original + {t} regimes)", nameof(acc));
        if (baseAcc.Count != cols) throw new ArgumentException($"baseAcc needs {cols} entries", nameof(baseAcc));

        var last = acc[t - 1];
        var avg = last.Average();

        // Forgetting (Chaudhry et al. 2018): for every regime learned before the last one, the best accuracy
        // reached on it at any earlier point (the base model counts for the original distribution) minus the
        // final accuracy. Regime j (j ≥ 1) is learned at row j − 1, so rows j − 1 .. t − 2 are its history.
        var forgets = new List<double>();
        for (var j = 0; j < t; j++)
        {
            var best = double.NegativeInfinity;
            if (j == 0) best = baseAcc[0];
            for (var row = Math.Max(0, j - 1); row <= t - 2; row++) best = Math.Max(best, acc[row][j]);
            if (double.IsNegativeInfinity(best)) best = acc[t - 1][j];
            forgets.Add(best - last[j]);
        }

        // BWT (Lopez-Paz and Ranzato 2017): mean over the earlier tasks of R[T][i] − R[i][i]. The original
        // distribution is task 0, "learned" by the base model, so R[0][0] is the base accuracy.
        var bwts = new List<double>();
        for (var j = 0; j < t; j++)
        {
            var justLearned = j == 0 ? baseAcc[0] : acc[j - 1][j];
            bwts.Add(last[j] - justLearned);
        }
        return new ContinualSummary(avg, forgets.Average(), forgets.Max(), bwts.Average());
    }
}

/// <summary>Percentile bootstrap of a mean.</summary>
public static class Bootstrap
{
    /// <summary>Mean and the 95% percentile-bootstrap interval of the mean (seeded resampling).</summary>
    public static (double Mean, double Low, double High) MeanInterval(IReadOnlyList<double> values, int resamples = 2000, int seed = 0,
        double confidence = 0.95)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count == 0) throw new ArgumentException("no values", nameof(values));
        if (resamples < 1) throw new ArgumentOutOfRangeException(nameof(resamples));
        var mean = values.Average();
        if (values.Count == 1) return (mean, mean, mean);
        var rng = new Random(seed);
        var means = new double[resamples];
        for (var r = 0; r < resamples; r++)
        {
            double s = 0;
            for (var i = 0; i < values.Count; i++) s += values[rng.Next(values.Count)];
            means[r] = s / values.Count;
        }
        Array.Sort(means);
        var alpha = (1 - confidence) / 2;
        return (mean, Quantile(means, alpha), Quantile(means, 1 - alpha));
    }

    private static double Quantile(double[] sorted, double q)
    {
        var pos = q * (sorted.Length - 1);
        var lo = (int)Math.Floor(pos);
        var hi = Math.Min(sorted.Length - 1, lo + 1);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
    }
}
