using System.Text.Json.Serialization;
using Pipeline.Drift.Monitoring;
using Pipeline.Drift.Performance;

namespace Pipeline.Cli.Benchmarks;

#pragma warning disable CS1591
/// <summary>One estimator's accuracy estimate on a stream's rows against their true accuracy.</summary>
public sealed record EstimatorError
{
    [JsonPropertyName("estimator")] public required string Estimator { get; init; }
    [JsonPropertyName("estimated_accuracy")] public double EstimatedAccuracy { get; init; }
    [JsonPropertyName("true_accuracy")] public double TrueAccuracy { get; init; }
    /// <summary>Estimated minus true accuracy (fraction).</summary>
    [JsonPropertyName("error")] public double Error => EstimatedAccuracy - TrueAccuracy;
}
#pragma warning restore CS1591

/// <summary>
/// Every label-free estimator over the same windows of a stream, as the monitor computes them (per window
/// sums, importance weighting per window, pooled), plus ATC on the negative entropy of the class
/// probabilities (ATC-NE: production messages carry the top-class probability only, so the product
/// cannot use it; measured here to see what it would gain).
/// </summary>
internal sealed class EstimatorTally
{
    public const string AtcNe = "atc-ne";
    public const string Agree = "agree";
    public const string AgreeProbit = "agree-probit";
    public const string AgreeRaw = "agree-raw";
    private readonly WitnessCalibration? _witness;
    private int _witnessRows, _agreeing;
    private readonly ConfidenceCalibration _calibration;
    private readonly AtcThreshold? _atcNe;
    private readonly PerformanceTracker _tracker;
    private readonly TriggerOptions _options;
    private PerformanceSums _sums = new();
    private int _rows, _correct, _neAbove, _neRows;

    public EstimatorTally(ConfidenceCalibration calibration, AtcThreshold? atcNe, WitnessCalibration? witness, InputSummary summary)
    {
        _witness = witness;
        _calibration = calibration;
        _atcNe = atcNe;
        _options = new TriggerOptions { CrossCheck = [AccuracyEstimators.Iw] };
        _tracker = new PerformanceTracker(calibration, _options, summary);
    }

    /// <summary>One window of rows drawn from <paramref name="pool"/> at <paramref name="idx"/>.</summary>
    public void Add(DetectBenchmark.Pool pool, int[] idx)
    {
        var rows = idx.Select(i => pool.Rows[i]).ToArray();
        _sums = _sums.Add(_tracker.Measure(rows));
        foreach (int i in idx)
        {
            _rows++;
            if (pool.Correct[i]) _correct++;
            if (_atcNe is not null && pool.NegativeEntropy is { } ne)
            {
                _neRows++;
                if (_atcNe.Above(ne[i])) _neAbove++;
            }
            if (_witness is not null && pool.Witness is { } w)
            {
                _witnessRows++;
                if (w[i] == pool.Rows[i].PredictedClass) _agreeing++;
            }
        }
    }

    public double TrueAccuracy => _rows == 0 ? double.NaN : (double)_correct / _rows;

    public List<EstimatorError> Results()
    {
        double truth = TrueAccuracy;
        var list = AccuracyEstimators.Evaluate(_sums, _calibration, _options.Z)
            .Select(r => new EstimatorError { Estimator = r.Name, EstimatedAccuracy = r.Accuracy, TrueAccuracy = truth })
            .ToList();
        if (_atcNe is not null && _neRows > 0)
        {
            double est = (double)_neAbove / _neRows + (_atcNe.ReferenceAccuracy - _atcNe.ReferenceLevel);
            list.Add(new EstimatorError { Estimator = AtcNe, EstimatedAccuracy = est, TrueAccuracy = truth });
        }
        if (_witness is { } c && _witnessRows > 0)
        {
            double agr = (double)_agreeing / _witnessRows;
            list.Add(new EstimatorError { Estimator = Agree, EstimatedAccuracy = c.ReferenceAccuracy + agr - c.ReferenceAgreement, TrueAccuracy = truth });
            list.Add(new EstimatorError { Estimator = AgreeProbit, EstimatedAccuracy = c.Probit(agr), TrueAccuracy = truth });
            list.Add(new EstimatorError { Estimator = AgreeRaw, EstimatedAccuracy = agr, TrueAccuracy = truth });
        }
        return list;
    }

    /// <summary>The product's estimator (<see cref="TriggerOptions.Estimator"/>'s default) on these rows.</summary>
    public double Product() => Results().First(r => r.Estimator == new TriggerOptions().Estimator).EstimatedAccuracy;

    /// <summary>Tallies <paramref name="windows"/> windows drawn from the pools the function gives per window (1-based).</summary>
    public static EstimatorTally Over(ConfidenceCalibration c, AtcThreshold? ne, WitnessCalibration? witness, InputSummary summary,
        Func<int, DetectBenchmark.Pool> pool, int windows, int rows, Random rng)
    {
        var t = new EstimatorTally(c, ne, witness, summary);
        for (int w = 1; w <= windows; w++)
        {
            var p = pool(w);
            t.Add(p, Enumerable.Range(0, rows).Select(_ => rng.Next(p.Rows.Length)).ToArray());
        }
        return t;
    }
}

/// <summary>The holdout's accuracy and its agreement with the witness model.</summary>
internal sealed record WitnessCalibration(double ReferenceAccuracy, double ReferenceAgreement)
{
    /// <summary>Accuracy from agreement along a line of slope 1 in probit space through the holdout's point.</summary>
    public double Probit(double agreement)
    {
        static double Clip(double p) => Math.Clamp(p, 1e-4, 1 - 1e-4);
        double z = MathNet.Numerics.Distributions.Normal.InvCDF(0, 1, Clip(ReferenceAccuracy)) + MathNet.Numerics.Distributions.Normal.InvCDF(0, 1, Clip(agreement)) - MathNet.Numerics.Distributions.Normal.InvCDF(0, 1, Clip(ReferenceAgreement));
        return MathNet.Numerics.Distributions.Normal.CDF(0, 1, z);
    }
}
