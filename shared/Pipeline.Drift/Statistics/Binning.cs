namespace Pipeline.Drift.Statistics;

/// <summary>
/// PSI / Jensen–Shannon binning as pinned in docs/drift.md: edges are the reference quantiles at
/// k/10 (k = 1..9, numpy's default 'linear' interpolation), duplicates removed; bins are
/// right-closed: (−∞, e1], (e1, e2], …, (e_last, ∞).
/// </summary>
public static class Binning
{
    /// <summary>Floor applied to bin / category proportions before PSI (never to JS).</summary>
    public const double ProportionFloor = 1e-4;

    /// <summary>Decile edges of an ascending-sorted, non-empty, finite sample.</summary>
    public static double[] DecileEdges(ReadOnlySpan<double> sorted)
    {
        if (sorted.IsEmpty) throw new ArgumentException("Cannot bin an empty reference sample.");
        var edges = new List<double>(9);
        for (int k = 1; k <= 9; k++)
        {
            double q = Quantile(sorted, k / 10.0);
            if (edges.Count == 0 || q != edges[^1])
            {
                edges.Add(q);
            }
        }
        return edges.ToArray();
    }

    /// <summary>numpy.quantile(sorted, q, method='linear'), including numpy's two-sided lerp.</summary>
    public static double Quantile(ReadOnlySpan<double> sorted, double q)
    {
        int n = sorted.Length;
        double vi = (n - 1) * q;
        int lo = (int)Math.Floor(vi);
        if (lo >= n - 1) return sorted[n - 1];
        if (lo < 0) return sorted[0];
        double g = vi - lo;
        double a = sorted[lo], b = sorted[lo + 1];
        double diff = b - a;
        return g >= 0.5 ? b - diff * (1 - g) : a + diff * g;
    }

    /// <summary>Bin index of x: the number of edges strictly below x (searchsorted side='left').</summary>
    public static int BinIndex(ReadOnlySpan<double> edges, double x)
    {
        int lo = 0, hi = edges.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (edges[mid] < x) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }

    /// <summary>Counts per bin (edges.Length + 1 bins) of finite values.</summary>
    public static long[] Counts(ReadOnlySpan<double> edges, ReadOnlySpan<double> values)
    {
        var counts = new long[edges.Length + 1];
        foreach (double x in values)
        {
            counts[BinIndex(edges, x)]++;
        }
        return counts;
    }

    /// <summary>Counts per bin of an ascending-sorted sample, by a single merge pass.</summary>
    public static long[] CountsSorted(ReadOnlySpan<double> edges, ReadOnlySpan<double> sorted)
    {
        var counts = new long[edges.Length + 1];
        int b = 0;
        int start = 0;
        for (int i = 0; i < sorted.Length; i++)
        {
            while (b < edges.Length && sorted[i] > edges[b])
            {
                counts[b] += i - start;
                start = i;
                b++;
            }
        }
        counts[b] += sorted.Length - start;
        return counts;
    }

    /// <summary>counts / total (all zeros when total is zero).</summary>
    public static double[] Proportions(ReadOnlySpan<long> counts)
    {
        long total = 0;
        foreach (long c in counts) total += c;
        var p = new double[counts.Length];
        if (total == 0) return p;
        for (int i = 0; i < p.Length; i++) p[i] = (double)counts[i] / total;
        return p;
    }

    /// <summary>PSI = Σ (cur − ref) · ln(cur / ref) on proportions floored at <see cref="ProportionFloor"/>.</summary>
    public static double Psi(ReadOnlySpan<double> referenceProportions, ReadOnlySpan<double> currentProportions)
    {
        if (referenceProportions.Length != currentProportions.Length)
        {
            throw new ArgumentException("Proportion vectors differ in length.");
        }
        double psi = 0.0;
        for (int i = 0; i < referenceProportions.Length; i++)
        {
            double r = Math.Max(referenceProportions[i], ProportionFloor);
            double c = Math.Max(currentProportions[i], ProportionFloor);
            psi += (c - r) * Math.Log(c / r);
        }
        return psi;
    }

    /// <summary>
    /// Jensen–Shannon distance, base 2, exactly as scipy.spatial.distance.jensenshannon(p, q, 2):
    /// p and q are renormalised to sum 1, zeros contribute 0 (rel_entr). No flooring.
    /// Returns 0 when the rounding makes the divergence slightly negative (scipy would give NaN).
    /// </summary>
    public static double JensenShannon(ReadOnlySpan<double> p, ReadOnlySpan<double> q)
    {
        if (p.Length != q.Length) throw new ArgumentException("Vectors differ in length.");
        double sp = 0, sq = 0;
        for (int i = 0; i < p.Length; i++)
        {
            sp += p[i];
            sq += q[i];
        }
        if (sp <= 0 || sq <= 0) return double.NaN;
        double left = 0, right = 0;
        for (int i = 0; i < p.Length; i++)
        {
            double pi = p[i] / sp, qi = q[i] / sq;
            double m = (pi + qi) / 2.0;
            if (pi > 0) left += pi * Math.Log(pi / m);
            if (qi > 0) right += qi * Math.Log(qi / m);
        }
        double js = (left + right) / Math.Log(2.0);
        return js <= 0 ? 0.0 : Math.Sqrt(js / 2.0);
    }
}
