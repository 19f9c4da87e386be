using MathNet.Numerics.LinearAlgebra;

namespace Pipeline.Drift.Performance;

/// <summary>
/// Black-box shift estimation (Lipton et al., ICML 2018) of accuracy under label shift: the class mix moves,
/// each class's inputs do not. The holdout's joint confusion C[ŷ, y] maps the traffic's true class mix to its
/// predicted class mix (q(ŷ) = Σ_y C[ŷ, y]·w_y with w_y = q(y)/p(y)); solving for w gives the traffic's class
/// mix, and accuracy is that mix weighted by each class's holdout recall. It needs only the predicted classes.
/// </summary>
public sealed record LabelShiftCalibration
{
    /// <summary>P(ŷ = i, y = j) on the holdout, row i predicted, column j true.</summary>
    public required double[][] Joint { get; init; }
    /// <summary>Holdout rows behind it.</summary>
    public int Rows { get; init; }

    /// <summary>Classes (the joint's order).</summary>
    public int Classes => Joint.Length;

    /// <summary>Most classes it is fitted for (a larger predicted class index is treated as invalid).</summary>
    public const int MaxClasses = 1000;

    /// <summary>Throws <see cref="DriftInputException"/> when the stored joint cannot be used.</summary>
    public void Validate()
    {
        if (Joint is null || Joint.Length is < 2 or > MaxClasses || Joint.Any(r => r is null || r.Length != Joint.Length))
            throw new DriftInputException("label-shift calibration needs a square joint confusion of 2 or more classes");
        if (Joint.Any(r => r.Any(v => !double.IsFinite(v) || v < 0)) || Math.Abs(Joint.Sum(r => r.Sum()) - 1) > 1e-6)
            throw new DriftInputException("label-shift calibration's joint confusion must be finite, non-negative and sum to 1");
    }

    /// <summary>Fits the joint confusion; null when fewer than two classes or rows without a valid class remain.</summary>
    public static LabelShiftCalibration? Fit(IReadOnlyList<int> predicted, IReadOnlyList<int> labels)
    {
        ArgumentNullException.ThrowIfNull(predicted);
        ArgumentNullException.ThrowIfNull(labels);
        int n = Math.Min(predicted.Count, labels.Count);
        int k = 0, used = 0;
        for (int i = 0; i < n; i++)
        {
            if (Valid(predicted[i], labels[i])) k = Math.Max(k, Math.Max(predicted[i], labels[i]) + 1);
        }
        if (k < 2) return null;
        var joint = Enumerable.Range(0, k).Select(_ => new double[k]).ToArray();
        for (int i = 0; i < n; i++)
        {
            if (!Valid(predicted[i], labels[i])) continue;
            joint[predicted[i]][labels[i]]++;
            used++;
        }
        if (used == 0) return null;
        foreach (var row in joint)
        {
            for (int j = 0; j < k; j++) row[j] /= used;
        }
        return new LabelShiftCalibration { Joint = joint, Rows = used };
    }

    private static bool Valid(int predicted, int label) => predicted is >= 0 and < MaxClasses && label is >= 0 and < MaxClasses;

    /// <summary>
    /// Accuracy on traffic with these predicted-class counts (index = class; classes the holdout never saw are
    /// ignored); null without rows. The importance weights are clipped at zero and renormalised.
    /// </summary>
    public double? Estimate(IReadOnlyList<long> predictedCounts)
    {
        ArgumentNullException.ThrowIfNull(predictedCounts);
        int k = Classes;
        var mu = new double[k];
        double total = 0;
        for (int i = 0; i < Math.Min(k, predictedCounts.Count); i++) total += mu[i] = predictedCounts[i];
        if (total <= 0) return null;
        for (int i = 0; i < k; i++) mu[i] /= total;
        return Solve(Joint, mu);
    }

    /// <summary>
    /// The estimate with its standard error: a parametric bootstrap that redraws both the holdout's confusion
    /// (its <see cref="Rows"/>) and the traffic's predicted classes (seeded by the counts, so it is repeatable;
    /// each draw costs O(classes²) and one LU solve: a few milliseconds a window for 10 classes).
    /// </summary>
    public (double Accuracy, double StandardError)? EstimateWithError(IReadOnlyList<long> predictedCounts, int draws = 200)
    {
        if (Estimate(predictedCounts) is not { } acc) return null;
        int k = Classes;
        var traffic = new double[k];
        long n = 0;
        for (int i = 0; i < Math.Min(k, predictedCounts.Count); i++) n += (long)(traffic[i] = predictedCounts[i]);
        for (int i = 0; i < k; i++) traffic[i] /= n;
        var cells = Joint.SelectMany(r => r).ToArray();
        var rng = new Random(unchecked((int)(n * 7919 + k)));
        var values = new List<double>(draws);
        var joint = Enumerable.Range(0, k).Select(_ => new double[k]).ToArray();
        for (int d = 0; d < draws; d++)
        {
            var jc = Redraw(cells, Math.Max(1, Rows), rng);
            for (int i = 0; i < k; i++)
            {
                for (int j = 0; j < k; j++) joint[i][j] = jc[i * k + j];
            }
            if (Solve(joint, Redraw(traffic, (int)Math.Min(n, int.MaxValue), rng)) is { } v) values.Add(v);
        }
        if (values.Count < 2) return (acc, 0.5);
        double mean = values.Average();
        return (acc, Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1)));
    }

    /// <summary>
    /// Proportions of <paramref name="n"/> draws from <paramref name="p"/>, by the normal approximation of each
    /// cell's count (clipped at 0, renormalised): the same spread as a multinomial draw at O(cells), not O(n).
    /// </summary>
    private static double[] Redraw(double[] p, int n, Random rng)
    {
        var counts = new double[p.Length];
        double sum = 0;
        for (int i = 0; i < p.Length; i++)
        {
            double mean = p[i] * n;
            double z = Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
            sum += counts[i] = Math.Max(0, mean + z * Math.Sqrt(mean * (1 - p[i])));
        }
        for (int i = 0; i < counts.Length; i++) counts[i] = sum > 0 ? counts[i] / sum : p[i];
        return counts;
    }

    /// <summary>Solves C·w = μ and reads accuracy.</summary>
    private static double? Solve(double[][] jointRows, double[] mu)
    {
        int k = jointRows.Length;
        var c = Matrix<double>.Build.Dense(k, k, (i, j) => jointRows[i][j]);
        var prior = Vector<double>.Build.Dense(k, j => Enumerable.Range(0, k).Sum(i => jointRows[i][j]));
        var target = Vector<double>.Build.DenseOfArray(mu);
        // LU first (cheap); the pseudo-inverse when C is singular or nearly so (a class never predicted).
        var w = c.LU().Solve(target);
        if (w.Any(v => !double.IsFinite(v) || Math.Abs(v) > 1e6))
        {
            var svd = c.Svd(computeVectors: true);
            double tolerance = 1e-9 * Math.Max(1e-12, svd.S.Maximum());
            var inverse = Vector<double>.Build.Dense(k, i => svd.S[i] > tolerance ? 1 / svd.S[i] : 0);
            w = svd.VT.Transpose() * inverse.PointwiseMultiply(svd.U.Transpose() * target);
        }
        double mass = 0;
        var q = new double[k];
        for (int j = 0; j < k; j++)
        {
            q[j] = double.IsFinite(w[j]) ? Math.Max(0, w[j]) * prior[j] : 0;
            mass += q[j];
        }
        if (!(mass > 0)) return null;
        double acc = 0;
        for (int j = 0; j < k; j++)
        {
            if (prior[j] > 0) acc += q[j] / mass * (jointRows[j][j] / prior[j]);
        }
        return double.IsFinite(acc) ? acc : null;
    }
}
