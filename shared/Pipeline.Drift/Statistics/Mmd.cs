namespace Pipeline.Drift.Statistics;

/// <summary>Result of a kernel two-sample test.</summary>
public sealed record MmdResult(double Mmd2, double PValue, double Bandwidth, int Permutations, int ReferenceSize, int CurrentSize);

/// <summary>
/// Maximum mean discrepancy with a Gaussian kernel k(x, y) = exp(−‖x − y‖² / (2σ²)), σ the
/// median pairwise Euclidean distance of the pooled sample (median heuristic; mean of non-zero
/// distances if the median is 0; 1 if all points coincide). Unbiased MMD²; p-value
/// (1 + #{permuted MMD² ≥ observed}) / (1 + permutations) from label permutations of the pooled
/// kernel matrix. Each side is subsampled (seeded) to at most maxPerSide points.
/// </summary>
public static class Mmd
{
    /// <summary>Runs the test. Both samples need at least 2 rows of the same dimension.</summary>
    public static MmdResult Test(
        IReadOnlyList<float[]> reference, IReadOnlyList<float[]> current,
        int permutations = 200, int seed = 0, int maxPerSide = 400)
    {
        if (reference.Count < 2 || current.Count < 2) throw new ArgumentException("MMD needs at least 2 points on each side.");
        int dim = reference[0].Length;
        var rng = new Random(seed);
        var x = Subsample(reference, maxPerSide, rng);
        var y = Subsample(current, maxPerSide, rng);
        int m = x.Count, n = y.Count, total = m + n;
        var pts = new float[total][];
        for (int i = 0; i < m; i++) pts[i] = x[i];
        for (int i = 0; i < n; i++) pts[m + i] = y[i];
        foreach (var pt in pts)
        {
            if (pt.Length != dim) throw new ArgumentException("All points must have the same dimension.");
        }

        var d2 = new double[total * total];
        Parallel.For(0, total, i =>
        {
            var a = pts[i];
            for (int j = i + 1; j < total; j++)
            {
                var b = pts[j];
                double s = 0;
                for (int k = 0; k < dim; k++)
                {
                    double t = a[k] - b[k];
                    s += t * t;
                }
                d2[i * total + j] = s;
            }
        });
        var upper = new double[total * (total - 1) / 2];
        int u = 0;
        for (int i = 0; i < total; i++)
        {
            for (int j = i + 1; j < total; j++) upper[u++] = d2[i * total + j];
        }
        Array.Sort(upper);
        double medianD2 = upper.Length % 2 == 1
            ? upper[upper.Length / 2]
            : 0.5 * (upper[upper.Length / 2 - 1] + upper[upper.Length / 2]);
        double sigma = Math.Sqrt(medianD2);
        if (!(sigma > 0))
        {
            double sum = 0;
            int cnt = 0;
            foreach (double v in upper)
            {
                if (v > 0)
                {
                    sum += Math.Sqrt(v);
                    cnt++;
                }
            }
            sigma = cnt > 0 ? sum / cnt : 1.0;
        }
        double gamma = 1.0 / (2 * sigma * sigma);
        var kmat = new double[total * total];
        for (int i = 0; i < total; i++)
        {
            kmat[i * total + i] = 1.0;
            for (int j = i + 1; j < total; j++)
            {
                double kv = Math.Exp(-gamma * d2[i * total + j]);
                kmat[i * total + j] = kv;
                kmat[j * total + i] = kv;
            }
        }
        var labels = new bool[total]; // true = current
        for (int i = m; i < total; i++) labels[i] = true;
        double observed = Statistic(kmat, labels, total, m, n);
        int atLeast = 0;
        var perm = (bool[])labels.Clone();
        for (int b = 0; b < permutations; b++)
        {
            rng.Shuffle(perm);
            if (Statistic(kmat, perm, total, m, n) >= observed) atLeast++;
        }
        double p = (1.0 + atLeast) / (1.0 + permutations);
        return new MmdResult(observed, p, sigma, permutations, m, n);
    }

    private static double Statistic(double[] k, bool[] isCur, int total, int m, int n)
    {
        double sxx = 0, syy = 0, sxy = 0;
        for (int i = 0; i < total; i++)
        {
            bool ci = isCur[i];
            int row = i * total;
            for (int j = i + 1; j < total; j++)
            {
                double v = k[row + j];
                bool cj = isCur[j];
                if (ci != cj) sxy += v;
                else if (ci) syy += v;
                else sxx += v;
            }
        }
        return 2 * sxx / ((double)m * (m - 1)) + 2 * syy / ((double)n * (n - 1)) - 2 * sxy / ((double)m * n);
    }

    private static List<float[]> Subsample(IReadOnlyList<float[]> s, int max, Random rng)
    {
        if (s.Count <= max) return s.ToList();
        var idx = Enumerable.Range(0, s.Count).ToArray();
        rng.Shuffle(idx);
        return idx.Take(max).Select(i => s[i]).ToList();
    }
}
