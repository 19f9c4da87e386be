namespace Pipeline.Drift.Performance;

/// <summary>
/// The labelled reference holdout as importance weighting needs it: each row's input summary (the
/// profile's <see cref="Monitoring.InputSummary"/>, e.g. 52 pooled image features or the raw columns)
/// and whether the model got it right. Stored in the profile with the calibration.
/// </summary>
public sealed record HoldoutSample
{
    /// <summary>Summary features per holdout row.</summary>
    public List<float[]> Rows { get; init; } = [];
    /// <summary>Whether the model was right on each row.</summary>
    public List<bool> Correct { get; init; } = [];

    /// <summary>Throws <see cref="DriftInputException"/> when the sample cannot be used.</summary>
    public void Validate()
    {
        if (Rows.Count != Correct.Count || Rows.Count < ConfidenceCalibration.MinRows)
            throw new DriftInputException("holdout sample needs one outcome per row and enough rows");
        int d = Rows[0].Length;
        if (d < 1 || Rows.Any(r => r is null || r.Length != d)) throw new DriftInputException("holdout sample rows must have one width");
    }
}

/// <summary>An importance-weighted accuracy estimate and its uncertainty.</summary>
/// <param name="Accuracy">Weighted holdout accuracy.</param>
/// <param name="StandardError">Delta-method standard error of the weighted mean.</param>
/// <param name="EffectiveRows">Kish's effective sample size of the weights, (Σw)²/Σw².</param>
public readonly record struct ImportanceEstimate(double Accuracy, double StandardError, double EffectiveRows);

/// <summary>
/// Accuracy under covariate shift by importance weighting: a domain classifier (L2-regularised logistic
/// regression, Newton steps, on features standardised by the holdout) separates the holdout from the
/// current traffic; each holdout row is weighted by its odds of being current traffic, and the estimate is
/// the weighted holdout accuracy. Unbiased when p(y | x) is unchanged and the holdout covers the new
/// inputs; when it does not, the weights concentrate on few rows, the effective sample size collapses and
/// the interval widens: the estimate then says itself that it is unsure.
/// </summary>
public static class ImportanceWeighting
{
    /// <summary>Widest input the Newton fit accepts (its Hessian is width²).</summary>
    public const int MaxWidth = 128;

    /// <summary>Estimates the accuracy of the current rows; null when the sample or the rows cannot be used.</summary>
    public static ImportanceEstimate? Estimate(HoldoutSample holdout, IReadOnlyList<double[]> current, double ridge = 1.0)
    {
        ArgumentNullException.ThrowIfNull(holdout);
        ArgumentNullException.ThrowIfNull(current);
        int nh = holdout.Rows.Count, nc = current.Count;
        if (nh < ConfidenceCalibration.MinRows || nc < 2 || holdout.Correct.Count != nh) return null;
        int d = holdout.Rows[0].Length;
        if (d > MaxWidth || current.Any(r => r.Length != d)) return null;

        // Standardise by the holdout; non-finite values become the mean (0).
        var mean = new double[d];
        var std = new double[d];
        for (int j = 0; j < d; j++)
        {
            double s = 0, s2 = 0;
            int k = 0;
            foreach (var r in holdout.Rows)
            {
                double v = r[j];
                if (!double.IsFinite(v)) continue;
                s += v;
                s2 += v * v;
                k++;
            }
            mean[j] = k == 0 ? 0 : s / k;
            double var = k == 0 ? 0 : s2 / k - mean[j] * mean[j];
            std[j] = var > 1e-12 ? Math.Sqrt(var) : 0;
        }
        int n = nh + nc;
        var x = new double[n][];
        var y = new double[n];
        for (int i = 0; i < nh; i++) x[i] = Standardise(holdout.Rows[i].Select(v => (double)v).ToArray(), mean, std);
        for (int i = 0; i < nc; i++)
        {
            x[nh + i] = Standardise(current[i], mean, std);
            y[nh + i] = 1;
        }
        var beta = Fit(x, y, ridge);

        double sw = 0, sw2 = 0, swy = 0;
        var w = new double[nh];
        for (int i = 0; i < nh; i++)
        {
            double z = Math.Clamp(Dot(beta, x[i]), -30, 30);
            w[i] = Math.Exp(z) * nh / nc; // odds of "current" × class-size correction
            sw += w[i];
            sw2 += w[i] * w[i];
            if (holdout.Correct[i]) swy += w[i];
        }
        double mu = swy / sw;
        double v2 = 0;
        for (int i = 0; i < nh; i++)
        {
            double r = (holdout.Correct[i] ? 1 : 0) - mu;
            v2 += w[i] * w[i] * r * r;
        }
        double ess = sw * sw / sw2;
        // A proportion of 0 or 1 on few effective rows would claim no variance: floor it like a binomial.
        double se = Math.Sqrt(Math.Max(v2 / (sw * sw), Math.Max(mu * (1 - mu), 0.0025) / ess));
        return new ImportanceEstimate(mu, se, ess);
    }

    private static double[] Standardise(double[] row, double[] mean, double[] std)
    {
        var z = new double[row.Length + 1];
        z[0] = 1; // intercept
        for (int j = 0; j < row.Length; j++)
        {
            double v = row[j];
            z[j + 1] = double.IsFinite(v) && std[j] > 0 ? (v - mean[j]) / std[j] : 0;
        }
        return z;
    }

    private static double Dot(double[] a, double[] b)
    {
        double s = 0;
        for (int j = 0; j < a.Length; j++) s += a[j] * b[j];
        return s;
    }

    /// <summary>Ridge logistic regression by Newton's method (the intercept is not penalised).</summary>
    internal static double[] Fit(double[][] x, double[] y, double ridge, int iterations = 25)
    {
        int p = x[0].Length;
        var beta = new double[p];
        var g = new double[p];
        var h = new double[p, p];
        for (int it = 0; it < iterations; it++)
        {
            Array.Clear(g);
            Array.Clear(h);
            for (int i = 0; i < x.Length; i++)
            {
                var xi = x[i];
                double pr = 1 / (1 + Math.Exp(-Math.Clamp(Dot(beta, xi), -30, 30)));
                double r = pr - y[i], wt = Math.Max(pr * (1 - pr), 1e-9);
                for (int a = 0; a < p; a++)
                {
                    if (xi[a] == 0) continue;
                    g[a] += r * xi[a];
                    double wa = wt * xi[a];
                    for (int b = a; b < p; b++) h[a, b] += wa * xi[b];
                }
            }
            for (int a = 1; a < p; a++)
            {
                g[a] += ridge * beta[a];
                h[a, a] += ridge;
            }
            h[0, 0] += 1e-9;
            for (int a = 0; a < p; a++)
            {
                for (int b = 0; b < a; b++) h[a, b] = h[b, a];
            }
            var step = Solve(h, g);
            double max = 0;
            for (int a = 0; a < p; a++)
            {
                beta[a] -= step[a];
                max = Math.Max(max, Math.Abs(step[a]));
            }
            if (max < 1e-6) break;
        }
        return beta;
    }

    /// <summary>Solves the symmetric positive-definite system by Cholesky.</summary>
    private static double[] Solve(double[,] a, double[] b)
    {
        int n = b.Length;
        var l = new double[n, n];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j <= i; j++)
            {
                double s = a[i, j];
                for (int k = 0; k < j; k++) s -= l[i, k] * l[j, k];
                l[i, j] = i == j ? Math.Sqrt(Math.Max(s, 1e-12)) : s / l[j, j];
            }
        }
        var z = new double[n];
        for (int i = 0; i < n; i++)
        {
            double s = b[i];
            for (int k = 0; k < i; k++) s -= l[i, k] * z[k];
            z[i] = s / l[i, i];
        }
        var xs = new double[n];
        for (int i = n - 1; i >= 0; i--)
        {
            double s = z[i];
            for (int k = i + 1; k < n; k++) s -= l[k, i] * xs[k];
            xs[i] = s / l[i, i];
        }
        return xs;
    }
}
