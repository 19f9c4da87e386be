using MathNet.Numerics;

namespace Pipeline.Drift.Statistics;

/// <summary>Chi-squared test of a contingency table.</summary>
public readonly record struct ChiSquaredResult(double Statistic, double PValue, int Dof);

/// <summary>Pearson chi-squared on a 2 × k table, as scipy.stats.chi2_contingency (Yates only when dof = 1).</summary>
public static class ChiSquared
{
    /// <summary>
    /// Test homogeneity of two count vectors over the same k categories. Columns whose total is
    /// zero are dropped first (scipy would raise on a zero expected frequency). With fewer than
    /// two remaining columns dof = 0 and the result is (0, 1, 0), as scipy returns.
    /// </summary>
    public static ChiSquaredResult TwoByK(ReadOnlySpan<long> a, ReadOnlySpan<long> b)
    {
        if (a.Length != b.Length) throw new ArgumentException("Count vectors differ in length.");
        var cols = new List<(double A, double B)>(a.Length);
        double ta = 0, tb = 0;
        for (int i = 0; i < a.Length; i++)
        {
            if (a[i] < 0 || b[i] < 0) throw new ArgumentException("Counts must be non-negative.");
            if (a[i] + b[i] == 0) continue;
            cols.Add((a[i], b[i]));
            ta += a[i];
            tb += b[i];
        }
        if (ta == 0 || tb == 0)
        {
            throw new ArgumentException("Both samples need at least one observation.");
        }
        int dof = cols.Count - 1;
        if (dof <= 0) return new ChiSquaredResult(0.0, 1.0, 0);
        double total = ta + tb;
        double stat = 0.0;
        foreach (var (ca, cb) in cols)
        {
            double colTotal = ca + cb;
            stat += Term(ca, ta * colTotal / total, dof);
            stat += Term(cb, tb * colTotal / total, dof);
        }
        return new ChiSquaredResult(stat, Sf(stat, dof), dof);
    }

    private static double Term(double observed, double expected, int dof)
    {
        double diff = observed - expected;
        if (dof == 1)
        {
            // Yates: move each observation 0.5 toward its expectation, never past it.
            double mag = Math.Min(0.5, Math.Abs(diff));
            diff = Math.Sign(diff) * (Math.Abs(diff) - mag);
        }
        return diff * diff / expected;
    }

    /// <summary>Survival function of the chi-squared distribution.</summary>
    public static double Sf(double x, int dof)
    {
        if (x <= 0) return 1.0;
        return SpecialFunctions.GammaUpperRegularized(dof / 2.0, x / 2.0);
    }
}
