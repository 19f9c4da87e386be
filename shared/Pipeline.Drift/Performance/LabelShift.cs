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

    /// <summary>Fits the joint confusion; null when fewer than two classes or rows without a valid class remain.</summary>
    public static LabelShiftCalibration? Fit(IReadOnlyList<int> predicted, IReadOnlyList<int> labels)
    {
        ArgumentNullException.ThrowIfNull(predicted);
        ArgumentNullException.ThrowIfNull(labels);
        int n = Math.Min(predicted.Count, labels.Count);
        int k = 0, used = 0;
        for (int i = 0; i < n; i++)
        {
            if (predicted[i] >= 0 && labels[i] >= 0) k = Math.Max(k, Math.Max(predicted[i], labels[i]) + 1);
        }
        if (k < 2) return null;
        var joint = Enumerable.Range(0, k).Select(_ => new double[k]).ToArray();
        for (int i = 0; i < n; i++)
        {
            if (predicted[i] < 0 || labels[i] < 0) continue;
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

    /// <summary>
    /// Accuracy on traffic with these predicted-class counts (index = class; classes the holdout never saw are
    /// ignored); null without rows. The importance weights are clipped at zero and renormalised.
    /// </summary>
    public double? Estimate(IReadOnlyList<long> predictedCounts)
    {
        ArgumentNullException.ThrowIfNull(predictedCounts);
        int k = Classes;
        double total = 0;
        for (int i = 0; i < Math.Min(k, predictedCounts.Count); i++) total += predictedCounts[i];
        if (total <= 0) return null;
        var c = Matrix<double>.Build.Dense(k, k, (i, j) => Joint[i][j]);
        var mu = Vector<double>.Build.Dense(k, i => i < predictedCounts.Count ? predictedCounts[i] / total : 0);
        var prior = Vector<double>.Build.Dense(k, j => Enumerable.Range(0, k).Sum(i => Joint[i][j]));
        // Least squares (a class the holdout never predicted leaves C singular).
        var w = c.Svd().Solve(mu);
        double mass = 0;
        var q = new double[k];
        for (int j = 0; j < k; j++)
        {
            q[j] = Math.Max(0, w[j]) * prior[j];
            mass += q[j];
        }
        if (mass <= 0) return null;
        double acc = 0;
        for (int j = 0; j < k; j++)
        {
            if (prior[j] > 0) acc += q[j] / mass * (Joint[j][j] / prior[j]);
        }
        return acc;
    }
}
