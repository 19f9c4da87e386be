namespace Pipeline.Drift.Statistics;

/// <summary>The four numeric statistics of one feature.</summary>
public sealed record NumericStatistics(KsResult Ks, double Psi, double Wasserstein, double JensenShannon);

/// <summary>KS, PSI, Wasserstein-1 and Jensen–Shannon for one numeric feature, in one sorted merge.</summary>
public static class NumericDrift
{
    /// <summary>
    /// Compare two ascending-sorted, non-empty, finite samples. Edges and reference proportions
    /// come from <see cref="Binning.DecileEdges"/> of the reference (or a stored profile).
    /// </summary>
    public static NumericStatistics Compare(
        ReadOnlySpan<double> sortedReference,
        ReadOnlySpan<double> edges,
        ReadOnlySpan<double> referenceProportions,
        ReadOnlySpan<double> sortedCurrent)
    {
        var (numerator, w1) = KsAndWasserstein(sortedReference, sortedCurrent);
        var ks = KolmogorovSmirnov.FromNumerator(numerator, sortedReference.Length, sortedCurrent.Length);
        var curProps = Binning.Proportions(Binning.CountsSorted(edges, sortedCurrent));
        return new NumericStatistics(ks, Binning.Psi(referenceProportions, curProps), w1,
            Binning.JensenShannon(referenceProportions, curProps));
    }

    /// <summary>Compare two sorted samples, deriving the bins from the reference.</summary>
    public static NumericStatistics Compare(ReadOnlySpan<double> sortedReference, ReadOnlySpan<double> sortedCurrent)
    {
        var edges = Binning.DecileEdges(sortedReference);
        var refProps = Binning.Proportions(Binning.CountsSorted(edges, sortedReference));
        return Compare(sortedReference, edges, refProps, sortedCurrent);
    }

    /// <summary>
    /// One merge of two sorted samples: the KS numerator max|i·n2 − j·n1| and ∫|F_a − F_b| dx.
    /// </summary>
    public static (long KsNumerator, double Wasserstein) KsAndWasserstein(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        int n1 = a.Length, n2 = b.Length;
        if (n1 == 0 || n2 == 0) throw new ArgumentException("Both samples must be non-empty.");
        double inv1 = 1.0 / n1, inv2 = 1.0 / n2;
        int i = 0, j = 0;
        long max = 0, min = 0;
        double prev = Math.Min(a[0], b[0]);
        double sum = 0.0;
        while (i < n1 && j < n2)
        {
            double ai = a[i], bj = b[j];
            double v = ai <= bj ? ai : bj;
            sum += Math.Abs(i * inv1 - j * inv2) * (v - prev);
            if (ai == v)
            {
                i++;
                while (i < n1 && a[i] == v) i++;
            }
            if (bj == v)
            {
                j++;
                while (j < n2 && b[j] == v) j++;
            }
            long diff = (long)i * n2 - (long)j * n1;
            if (diff > max) max = diff;
            else if (diff < min) min = diff;
            prev = v;
        }
        // Tail: only one sample left; its ECDF climbs to 1 while the other is already 1 (or 0).
        while (i < n1)
        {
            double v = a[i];
            sum += Math.Abs(i * inv1 - j * inv2) * (v - prev);
            i++;
            while (i < n1 && a[i] == v) i++;
            prev = v;
        }
        while (j < n2)
        {
            double v = b[j];
            sum += Math.Abs(i * inv1 - j * inv2) * (v - prev);
            j++;
            while (j < n2 && b[j] == v) j++;
            prev = v;
        }
        return (Math.Max(max, -min), sum);
    }
}
