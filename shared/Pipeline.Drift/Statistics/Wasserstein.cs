namespace Pipeline.Drift.Statistics;

/// <summary>Wasserstein-1 distance between two empirical distributions (scipy.stats.wasserstein_distance).</summary>
public static class Wasserstein
{
    /// <summary>∫ |F_a − F_b| dx for two ascending-sorted, non-empty, finite samples, by one merge.</summary>
    public static double Distance(ReadOnlySpan<double> sortedA, ReadOnlySpan<double> sortedB)
    {
        int n1 = sortedA.Length, n2 = sortedB.Length;
        if (n1 == 0 || n2 == 0) throw new ArgumentException("Wasserstein distance needs two non-empty samples.");
        double inv1 = 1.0 / n1, inv2 = 1.0 / n2;
        int i = 0, j = 0;
        double prev = Math.Min(sortedA[0], sortedB[0]);
        double sum = 0.0;
        while (i < n1 || j < n2)
        {
            double v = j >= n2 || (i < n1 && sortedA[i] <= sortedB[j]) ? sortedA[i] : sortedB[j];
            sum += Math.Abs(i * inv1 - j * inv2) * (v - prev);
            while (i < n1 && sortedA[i] == v) i++;
            while (j < n2 && sortedB[j] == v) j++;
            prev = v;
        }
        return sum;
    }

    /// <summary>Unsorted convenience overload (sorts copies).</summary>
    public static double DistanceUnsorted(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        var sa = a.ToArray();
        var sb = b.ToArray();
        Array.Sort(sa);
        Array.Sort(sb);
        return Distance(sa, sb);
    }
}
