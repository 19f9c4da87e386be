using MathNet.Numerics;

namespace Pipeline.Drift.Statistics;

/// <summary>
/// Distribution of the one-sample two-sided KS statistic D_n (scipy.stats.kstwo) and its limit.
/// Accuracy target: 1e-4 absolute or better (checked against scipy in the fixtures).
/// </summary>
public static class KolmogorovDistribution
{
    /// <summary>Above this n the Vrbik-corrected limit distribution is used (error &lt; 5e-5 at n = 500).</summary>
    public const int ExactMaxN = 500;

    /// <summary>P(D_n ≥ d) (scipy.stats.kstwo.sf(d, n)).</summary>
    public static double TwoSidedSf(int n, double d)
    {
        if (n < 1) throw new ArgumentOutOfRangeException(nameof(n));
        if (double.IsNaN(d)) return double.NaN;
        if (d >= 1.0) return 0.0;
        if (d <= 0.0) return 1.0;
        double t = n * d;
        if (t <= 0.5) return 1.0;
        if (t <= 1.0)
        {
            // Ruben–Gambino: P(D_n < d) = n!/n^n (2t − 1)^n for 1/(2n) ≤ d ≤ 1/n.
            double logCdf = SpecialFunctions.GammaLn(n + 1.0) - n * Math.Log(n) + n * Math.Log(2 * t - 1);
            return Math.Clamp(1.0 - Math.Exp(logCdf), 0.0, 1.0);
        }
        if (t >= n - 1)
        {
            return Math.Clamp(2 * Math.Pow(1.0 - d, n), 0.0, 1.0);
        }
        double nd2 = t * d;
        if (n <= ExactMaxN)
        {
            if (d >= 0.5 || nd2 >= 2.2)
            {
                // P(D_n ≥ d) = 2 P(D_n^+ ≥ d) − P(both), the second term is below 1e-7 here.
                return Math.Clamp(2 * SmirnovSf(n, d), 0.0, 1.0);
            }
            return Math.Clamp(1.0 - DurbinCdf(n, d), 0.0, 1.0);
        }
        if (nd2 >= 370.0) return 0.0;
        // Vrbik (2018) small-sample correction of the Kolmogorov limit.
        double z = Math.Sqrt(n) * d;
        double zc = z + 1.0 / (6.0 * Math.Sqrt(n)) + (z - 1.0) / (4.0 * n);
        return Math.Clamp(LimitSf(zc), 0.0, 1.0);
    }

    /// <summary>One-sided P(D_n^+ ≥ d), exact (Birnbaum–Tingey sum, evaluated in log space).</summary>
    public static double SmirnovSf(int n, double d)
    {
        if (d <= 0) return 1.0;
        if (d >= 1) return 0.0;
        int jmax = (int)Math.Floor(n * (1 - d));
        double lgn = SpecialFunctions.GammaLn(n + 1.0);
        double sum = 0.0;
        for (int j = 0; j <= jmax; j++)
        {
            double a = d + (double)j / n;
            double b = 1.0 - a;
            if (b <= 0) break;
            double logTerm = lgn - SpecialFunctions.GammaLn(j + 1.0) - SpecialFunctions.GammaLn(n - j + 1.0)
                             + (j - 1) * Math.Log(a) + (n - j) * Math.Log(b);
            sum += Math.Exp(logTerm);
        }
        return Math.Clamp(d * sum, 0.0, 1.0);
    }

    /// <summary>Kolmogorov limit: P(K ≥ z) with K = sup|B(t)| of a Brownian bridge.</summary>
    public static double LimitSf(double z)
    {
        if (z <= 0) return 1.0;
        if (z < 1.0)
        {
            // Jacobi-theta form, converges fast for small z: K(z) = √(2π)/z Σ exp(−(2k−1)²π²/(8z²)).
            double s = 0.0;
            double c = -Math.PI * Math.PI / (8 * z * z);
            for (int k = 1; k < 20; k++)
            {
                double m = 2 * k - 1;
                double term = Math.Exp(c * m * m);
                s += term;
                if (term < 1e-17 * s) break;
            }
            return 1.0 - Math.Sqrt(2 * Math.PI) / z * s;
        }
        double sum = 0.0;
        for (int k = 1; k < 100; k++)
        {
            double term = Math.Exp(-2.0 * k * k * z * z);
            sum += (k % 2 == 1 ? term : -term);
            if (term < 1e-17) break;
        }
        return Math.Clamp(2 * sum, 0.0, 1.0);
    }

    /// <summary>
    /// Exact P(D_n &lt; d) by the matrix method of Durbin as organised by Marsaglia, Tsang and
    /// Wang (2003): n!/n^n · (H^n)[k−1, k−1] with k = ⌊nd⌋+1, evaluated with exponent tracking.
    /// Cost O((2k−1)³ log n); used for n ≤ <see cref="ExactMaxN"/> and n·d² &lt; 2.2.
    /// </summary>
    public static double DurbinCdf(int n, double d)
    {
        int k = (int)(n * d) + 1;
        int m = 2 * k - 1;
        double h = k - n * d;
        var hm = new double[m * m];
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < m; j++)
            {
                hm[i * m + j] = i - j + 1 >= 0 ? 1.0 : 0.0;
            }
        }
        for (int i = 0; i < m; i++)
        {
            hm[i * m] -= Math.Pow(h, i + 1);
            hm[(m - 1) * m + i] -= Math.Pow(h, m - i);
        }
        if (2 * h - 1 > 0)
        {
            hm[(m - 1) * m] += Math.Pow(2 * h - 1, m);
        }
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < m; j++)
            {
                int f = i - j + 1;
                if (f > 0)
                {
                    hm[i * m + j] /= Math.Exp(SpecialFunctions.GammaLn(f + 1.0));
                }
            }
        }
        var (q, qe) = MatrixPower(hm, m, n);
        double s = q[(k - 1) * m + (k - 1)];
        if (s <= 0) return 0.0;
        double logP = Math.Log(s) + qe * Math.Log(2.0) + SpecialFunctions.GammaLn(n + 1.0) - n * Math.Log(n);
        return Math.Clamp(Math.Exp(logP), 0.0, 1.0);
    }

    private static (double[] Matrix, long Exponent) MatrixPower(double[] a, int m, int power)
    {
        if (power == 1) return ((double[])a.Clone(), 0);
        var (half, e) = MatrixPower(a, m, power / 2);
        var sq = Multiply(half, half, m);
        long exp = 2 * e;
        if (power % 2 == 1)
        {
            sq = Multiply(a, sq, m);
        }
        // Keep the centre element in a comfortable range.
        double centre = sq[(m / 2) * m + m / 2];
        if (centre > 1e140 || (centre < 1e-140 && centre > 0))
        {
            int shift = Math.ILogB(centre);
            double scale = Math.ScaleB(1.0, -shift);
            for (int i = 0; i < sq.Length; i++) sq[i] *= scale;
            exp += shift;
        }
        return (sq, exp);
    }

    private static double[] Multiply(double[] x, double[] y, int m)
    {
        var r = new double[m * m];
        for (int i = 0; i < m; i++)
        {
            for (int l = 0; l < m; l++)
            {
                double xil = x[i * m + l];
                if (xil == 0) continue;
                int ro = i * m, yo = l * m;
                for (int j = 0; j < m; j++) r[ro + j] += xil * y[yo + j];
            }
        }
        return r;
    }
}
