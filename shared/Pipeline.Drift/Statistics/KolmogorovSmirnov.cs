namespace Pipeline.Drift.Statistics;

/// <summary>How a two-sample KS p-value was computed (mirrors scipy.stats.ks_2samp method='auto').</summary>
public enum KsMethod
{
    /// <summary>Exact distribution of the two-sample statistic (max(n1, n2) &lt;= 10000).</summary>
    Exact,
    /// <summary>kstwo.sf(d, round(n1*n2/(n1+n2))) (max(n1, n2) &gt; 10000).</summary>
    Asymptotic,
}

/// <summary>Two-sample KS statistic and two-sided p-value.</summary>
public readonly record struct KsResult(double Statistic, double PValue, KsMethod Method);

/// <summary>
/// Two-sample Kolmogorov–Smirnov test, two-sided, following scipy.stats.ks_2samp(method='auto')
/// of scipy 1.10: exact p-value when max(n1, n2) &lt;= 10000, otherwise the one-sample
/// two-sided distribution kstwo.sf(d, round(n1·n2/(n1+n2))).
/// </summary>
public static class KolmogorovSmirnov
{
    /// <summary>scipy's MAX_AUTO_N: the largest sample size for which 'auto' uses the exact distribution.</summary>
    public const int MaxExactN = 10000;

    /// <summary>KS test on two unsorted samples (copied and sorted). Values must be finite.</summary>
    public static KsResult TwoSampleUnsorted(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        var sa = a.ToArray();
        var sb = b.ToArray();
        Array.Sort(sa);
        Array.Sort(sb);
        return TwoSample(sa, sb);
    }

    /// <summary>KS test on two ascending-sorted samples of finite values.</summary>
    /// <exception cref="ArgumentException">Either sample is empty.</exception>
    public static KsResult TwoSample(ReadOnlySpan<double> sortedA, ReadOnlySpan<double> sortedB)
    {
        int n1 = sortedA.Length, n2 = sortedB.Length;
        if (n1 == 0 || n2 == 0)
        {
            throw new ArgumentException("KS test needs two non-empty samples.");
        }
        long numerator = StatisticNumerator(sortedA, sortedB);
        return FromNumerator(numerator, n1, n2);
    }

    /// <summary>
    /// max over the pooled points of |i·n2 − j·n1| where i, j are the counts of each sample
    /// ≤ the point; the statistic is numerator / (n1·n2).
    /// </summary>
    public static long StatisticNumerator(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        int n1 = a.Length, n2 = b.Length;
        int i = 0, j = 0;
        long max = 0, min = 0;
        while (i < n1 && j < n2)
        {
            double v = a[i] < b[j] ? a[i] : b[j];
            while (i < n1 && a[i] == v) i++;
            while (j < n2 && b[j] == v) j++;
            long diff = (long)i * n2 - (long)j * n1;
            if (diff > max) max = diff;
            else if (diff < min) min = diff;
        }
        // Past the end of one sample the difference moves monotonically to 0: no new extreme.
        return Math.Max(max, -min);
    }

    /// <summary>Result from the integer statistic numerator (see <see cref="StatisticNumerator"/>).</summary>
    public static KsResult FromNumerator(long numerator, int n1, int n2)
    {
        if (Math.Max(n1, n2) <= MaxExactN)
        {
            // scipy: d = h / lcm with h = round(d * lcm); numerator = h * gcd.
            long g = Gcd(n1, n2);
            long lcm = (long)n1 / g * n2;
            long h = numerator / g;
            double d = (double)h / lcm;
            return new KsResult(d, ExactPValue(n1, n2, numerator), KsMethod.Exact);
        }
        double stat = numerator / ((double)n1 * n2);
        return new KsResult(stat, AsymptoticPValue(stat, n1, n2), KsMethod.Asymptotic);
    }

    /// <summary>
    /// p-value for a statistic d with sample sizes n1, n2 (method='auto' rule). Used when the
    /// statistic came from a sketch: exact mode rounds d to the lattice h/lcm first, as scipy does.
    /// </summary>
    public static KsResult PValue(double d, int n1, int n2)
    {
        if (n1 <= 0 || n2 <= 0) throw new ArgumentException("Sample sizes must be positive.");
        d = Math.Clamp(d, 0.0, 1.0);
        if (Math.Max(n1, n2) <= MaxExactN)
        {
            long g = Gcd(n1, n2);
            long lcm = (long)n1 / g * n2;
            long h = (long)Math.Round(d * lcm, MidpointRounding.ToEven);
            return new KsResult((double)h / lcm, ExactPValue(n1, n2, h * g), KsMethod.Exact);
        }
        return new KsResult(d, AsymptoticPValue(d, n1, n2), KsMethod.Asymptotic);
    }

    /// <summary>scipy's asymptotic branch: kstwo.sf(d, round(en)), en = n1·n2/(n1+n2).</summary>
    public static double AsymptoticPValue(double d, int n1, int n2)
    {
        double m = Math.Max(n1, n2), n = Math.Min(n1, n2);
        double en = m * n / (m + n);
        int nr = (int)Math.Round(en, MidpointRounding.ToEven);
        if (nr < 1) nr = 1;
        return Math.Clamp(KolmogorovDistribution.TwoSidedSf(nr, d), 0.0, 1.0);
    }

    /// <summary>
    /// Exact P(D ≥ d) under H0 for the two-sided two-sample statistic, d = numerator/(n1·n2).
    /// Counts, as probabilities, the lattice paths from (0,0) to (n1,n2) that stay strictly inside
    /// |i·n2 − j·n1| &lt; numerator; a uniformly random path is a Markov chain whose step
    /// probabilities are (n1−i)/(N−i−j) and (n2−j)/(N−i−j), which never overflows.
    /// </summary>
    public static double ExactPValue(int n1, int n2, long numerator)
    {
        if (numerator <= 0) return 1.0;
        if (numerator > (long)n1 * n2) return 0.0;
        // Let the longer side be the inner (j) dimension.
        var prev = new double[n2 + 1];
        var cur = new double[n2 + 1];
        long total = (long)n1 + n2;
        int prevLo = 0, prevHi = -1;
        for (int i = 0; i <= n1; i++)
        {
            // inside: |i*n2 - j*n1| < D  <=>  (i*n2 - D)/n1 < j < (i*n2 + D)/n1
            long iN2 = (long)i * n2;
            int lo = (int)Math.Max(0, FloorDiv(iN2 - numerator, n1) + 1);
            int hi = (int)Math.Min(n2, CeilDiv(iN2 + numerator, n1) - 1);
            if (lo > hi)
            {
                return 1.0;
            }
            double left = 0.0; // cur[j-1]
            for (int j = lo; j <= hi; j++)
            {
                double v;
                if (i == 0 && j == 0)
                {
                    v = 1.0;
                }
                else
                {
                    double remaining = total - i - j + 1; // steps left before the last step
                    double fromI = (i > 0 && j >= prevLo && j <= prevHi) ? prev[j] * (n1 - i + 1) : 0.0;
                    double fromJ = j > lo ? left * (n2 - j + 1) : 0.0;
                    v = (fromI + fromJ) / remaining;
                }
                cur[j] = v;
                left = v;
            }
            (prev, cur) = (cur, prev);
            prevLo = lo;
            prevHi = hi;
        }
        double inside = (prevLo <= n2 && n2 <= prevHi) ? prev[n2] : 0.0;
        return Math.Clamp(1.0 - inside, 0.0, 1.0);
    }

    private static long FloorDiv(long a, long b) => a >= 0 ? a / b : -((-a + b - 1) / b);
    private static long CeilDiv(long a, long b) => a >= 0 ? (a + b - 1) / b : -((-a) / b);

    internal static long Gcd(long a, long b)
    {
        while (b != 0)
        {
            (a, b) = (b, a % b);
        }
        return a;
    }
}
