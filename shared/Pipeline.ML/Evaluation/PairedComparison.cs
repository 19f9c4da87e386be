using MathNet.Numerics.Distributions;

namespace Pipeline.ML.Evaluation;

/// <summary>
/// Accuracy of a candidate minus accuracy of a baseline, both measured on the same rows, with a
/// confidence interval. Counts of the paired 2 × 2 table: <see cref="BothRight"/>,
/// <see cref="OnlyCandidateRight"/>, <see cref="OnlyBaselineRight"/>, <see cref="BothWrong"/>.
/// </summary>
public sealed record PairedDifference(
    int BothRight, int OnlyCandidateRight, int OnlyBaselineRight, int BothWrong,
    double Difference, double Lower, double Upper, double Confidence)
{
    public int Count => BothRight + OnlyCandidateRight + OnlyBaselineRight + BothWrong;

    public double BaselineAccuracy => Count == 0 ? 0 : (double)(BothRight + OnlyBaselineRight) / Count;

    public double CandidateAccuracy => Count == 0 ? 0 : (double)(BothRight + OnlyCandidateRight) / Count;

    /// <summary>Rows where exactly one model is right: the only rows that carry information about the difference.</summary>
    public int Discordant => OnlyCandidateRight + OnlyBaselineRight;
}

/// <summary>
/// Paired comparison of two classifiers on the same labelled rows.
/// The interval is Newcombe's hybrid score interval for a difference of paired proportions
/// (Newcombe 1998, "Improved confidence intervals for the difference between binomial proportions
/// based on paired data", method 10): Wilson score intervals for each accuracy, combined with the
/// observed correlation of the two models' correctness. Unlike a Wald interval it stays inside
/// [−1, 1], behaves with few discordant rows, and needs no resampling (so it is deterministic).
/// Coverage is close to nominal from a few dozen rows on.
/// </summary>
public static class PairedComparison
{
    /// <summary>Candidate accuracy minus baseline accuracy, with a two-sided interval at <paramref name="confidence"/>.</summary>
    public static PairedDifference Compare(bool[] baselineCorrect, bool[] candidateCorrect, double confidence = 0.95)
    {
        ArgumentNullException.ThrowIfNull(baselineCorrect);
        ArgumentNullException.ThrowIfNull(candidateCorrect);
        if (baselineCorrect.Length != candidateCorrect.Length)
        {
            throw new ArgumentException("both models must be measured on the same rows");
        }

        int bothRight = 0, onlyCandidate = 0, onlyBaseline = 0, bothWrong = 0;
        for (var i = 0; i < baselineCorrect.Length; i++)
        {
            switch (baselineCorrect[i], candidateCorrect[i])
            {
                case (true, true): bothRight++; break;
                case (false, true): onlyCandidate++; break;
                case (true, false): onlyBaseline++; break;
                default: bothWrong++; break;
            }
        }

        return FromCounts(bothRight, onlyCandidate, onlyBaseline, bothWrong, confidence);
    }

    public static PairedDifference FromCounts(int bothRight, int onlyCandidateRight, int onlyBaselineRight, int bothWrong, double confidence = 0.95)
    {
        if (bothRight < 0 || onlyCandidateRight < 0 || onlyBaselineRight < 0 || bothWrong < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(bothRight), "counts must be non-negative");
        }

        if (confidence is <= 0 or >= 1)
        {
            throw new ArgumentOutOfRangeException(nameof(confidence), "confidence must be in (0, 1)");
        }

        var n = (double)(bothRight + onlyCandidateRight + onlyBaselineRight + bothWrong);
        if (n == 0)
        {
            return new PairedDifference(0, 0, 0, 0, 0, -1, 1, confidence);
        }

        var z = Z(confidence);
        var candidate = (bothRight + onlyCandidateRight) / n;
        var baseline = (bothRight + onlyBaselineRight) / n;
        var (l1, u1) = Wilson(candidate, n, z);
        var (l2, u2) = Wilson(baseline, n, z);

        // Correlation of the two models' correctness over the rows (phi of the 2 × 2 table).
        var product = (double)(bothRight + onlyCandidateRight) * (onlyBaselineRight + bothWrong)
            * (bothRight + onlyBaselineRight) * (onlyCandidateRight + bothWrong);
        var phi = product == 0
            ? 0
            : ((double)bothRight * bothWrong - (double)onlyCandidateRight * onlyBaselineRight) / Math.Sqrt(product);

        var difference = candidate - baseline;
        var below = Math.Sqrt(Math.Max(0, Sq(candidate - l1) - 2 * phi * (candidate - l1) * (u2 - baseline) + Sq(u2 - baseline)));
        var above = Math.Sqrt(Math.Max(0, Sq(u1 - candidate) - 2 * phi * (u1 - candidate) * (baseline - l2) + Sq(baseline - l2)));
        return new PairedDifference(bothRight, onlyCandidateRight, onlyBaselineRight, bothWrong, difference,
            Math.Max(-1, difference - below), Math.Min(1, difference + above), confidence);
    }

    /// <summary>
    /// Rows needed so that the interval's half-width is about <paramref name="halfWidth"/> when a
    /// share <paramref name="discordance"/> of rows has exactly one model right: the variance of the
    /// paired difference is at most q/n (q = discordant share), so n ≈ z² · q / h².
    /// </summary>
    public static int RequiredRows(double halfWidth, double discordance, double confidence = 0.95)
    {
        if (halfWidth is <= 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(halfWidth));
        if (discordance is <= 0 or > 1) throw new ArgumentOutOfRangeException(nameof(discordance));
        var z = Z(confidence);
        return (int)Math.Ceiling(z * z * discordance / (halfWidth * halfWidth));
    }

    /// <summary>Per-class paired differences (rows grouped by their true class).</summary>
    public static IReadOnlyList<PairedDifference> CompareByClass(
        bool[] baselineCorrect, bool[] candidateCorrect, long[] truth, int classes, double confidence = 0.95)
    {
        ArgumentNullException.ThrowIfNull(truth);
        if (truth.Length != baselineCorrect.Length) throw new ArgumentException("labels must cover the same rows");
        var result = new PairedDifference[classes];
        for (var c = 0; c < classes; c++)
        {
            var rows = Enumerable.Range(0, truth.Length).Where(i => truth[i] == c).ToArray();
            result[c] = Compare(rows.Select(i => baselineCorrect[i]).ToArray(), rows.Select(i => candidateCorrect[i]).ToArray(), confidence);
        }

        return result;
    }

    private static (double Lower, double Upper) Wilson(double p, double n, double z)
    {
        var z2 = z * z;
        var centre = (p + z2 / (2 * n)) / (1 + z2 / n);
        var half = z / (1 + z2 / n) * Math.Sqrt(p * (1 - p) / n + z2 / (4 * n * n));
        return (Math.Max(0, centre - half), Math.Min(1, centre + half));
    }

    private static double Z(double confidence) => Normal.InvCDF(0, 1, 1 - (1 - confidence) / 2);

    private static double Sq(double x) => x * x;
}
