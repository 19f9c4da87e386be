using System.Globalization;

namespace Pipeline.Drift.Performance;

/// <summary>
/// Temperature scaling of the model's top-class confidence, fitted on a labelled reference holdout,
/// and what the reference accuracy was. Production traffic carries only the top-class probability
/// (not the logits), so the temperature acts on its log-odds: c' = σ(logit(c) / T). T &gt; 1 softens an
/// over-confident model, T &lt; 1 sharpens an under-confident one. The mean of c' over rows is the
/// confidence-based performance estimate (CBPE) of their accuracy.
/// </summary>
public sealed record ConfidenceCalibration
{
    /// <summary>Fitted temperature (maximum likelihood of "prediction was correct").</summary>
    public double Temperature { get; init; } = 1;
    /// <summary>Labelled reference rows the temperature was fitted on.</summary>
    public int Rows { get; init; }
    /// <summary>Observed accuracy on those rows.</summary>
    public double ReferenceAccuracy { get; init; }
    /// <summary>Mean calibrated confidence on those rows (the estimator's own reference level).</summary>
    public double ReferenceEstimatedAccuracy { get; init; }
    /// <summary>Standard deviation of the calibrated confidence on those rows.</summary>
    public double ReferenceEstimateStd { get; init; }
    /// <summary>Mean raw confidence on those rows (before scaling).</summary>
    public double ReferenceMeanConfidence { get; init; }
    /// <summary>Expected calibration error (15 equal-width bins) before and after scaling.</summary>
    public double EceBefore { get; init; }
    /// <summary>Expected calibration error after scaling.</summary>
    public double EceAfter { get; init; }
    /// <summary>Standard deviation of the raw confidence on the holdout (DoC's interval).</summary>
    public double ReferenceConfidenceStd { get; init; }
    /// <summary>ATC's threshold on the raw top-class confidence (null in profiles built before it existed).</summary>
    public AtcThreshold? Atc { get; init; }
    /// <summary>The holdout's input summaries and outcomes, for importance weighting (null: not available).</summary>
    public HoldoutSample? Holdout { get; init; }
    /// <summary>The holdout's joint confusion, for black-box shift estimation (null in profiles built before it existed).</summary>
    public LabelShiftCalibration? LabelShift { get; init; }

    /// <summary>Smallest labelled reference the fit accepts.</summary>
    public const int MinRows = 50;

    private const double Eps = 1e-6;

    /// <summary>The calibrated confidence of one prediction.</summary>
    public double Calibrate(double confidence) => Scale(confidence, Temperature);

    /// <summary>
    /// Fits the temperature on (confidence, correct) pairs; rows with a confidence outside [0, 1] are
    /// skipped. Throws <see cref="DriftInputException"/> when fewer than <see cref="MinRows"/> remain.
    /// </summary>
    public static ConfidenceCalibration Fit(IReadOnlyList<double> confidences, IReadOnlyList<bool> correct)
    {
        ArgumentNullException.ThrowIfNull(confidences);
        ArgumentNullException.ThrowIfNull(correct);
        if (confidences.Count != correct.Count)
            throw new DriftInputException($"calibration needs one outcome per confidence ({confidences.Count} vs {correct.Count})");
        var c = new List<double>(confidences.Count);
        var y = new List<bool>(confidences.Count);
        for (int i = 0; i < confidences.Count; i++)
        {
            double v = confidences[i];
            if (!double.IsFinite(v) || v < 0 || v > 1) continue;
            c.Add(v);
            y.Add(correct[i]);
        }
        if (c.Count < MinRows)
            throw new DriftInputException(string.Create(CultureInfo.InvariantCulture,
                $"calibration needs at least {MinRows} labelled reference rows, got {c.Count}"));

        // NLL is convex in 1/T for a logistic model; a golden-section search over log T is enough.
        double lo = Math.Log(0.05), hi = Math.Log(20);
        double phi = (Math.Sqrt(5) - 1) / 2;
        double a = hi - phi * (hi - lo), b = lo + phi * (hi - lo);
        double fa = Nll(c, y, Math.Exp(a)), fb = Nll(c, y, Math.Exp(b));
        for (int it = 0; it < 80; it++)
        {
            if (fa < fb)
            {
                hi = b; b = a; fb = fa;
                a = hi - phi * (hi - lo);
                fa = Nll(c, y, Math.Exp(a));
            }
            else
            {
                lo = a; a = b; fa = fb;
                b = lo + phi * (hi - lo);
                fb = Nll(c, y, Math.Exp(b));
            }
        }
        double t = Math.Exp((lo + hi) / 2);
        double sum = 0, sum2 = 0, raw = 0, raw2 = 0;
        int hits = 0;
        for (int i = 0; i < c.Count; i++)
        {
            double s = Scale(c[i], t);
            sum += s;
            sum2 += s * s;
            raw += c[i];
            raw2 += c[i] * c[i];
            if (y[i]) hits++;
        }
        int n = c.Count;
        double mean = sum / n;
        return new ConfidenceCalibration
        {
            Temperature = t,
            Rows = n,
            ReferenceAccuracy = (double)hits / n,
            ReferenceEstimatedAccuracy = mean,
            ReferenceEstimateStd = Math.Sqrt(Math.Max(0, sum2 / n - mean * mean)),
            ReferenceMeanConfidence = raw / n,
            ReferenceConfidenceStd = Math.Sqrt(Math.Max(0, raw2 / n - raw / n * (raw / n))),
            Atc = AtcThreshold.Fit(c, y),
            EceBefore = Ece(c, y, 1),
            EceAfter = Ece(c, y, t),
        };
    }

    /// <summary>Most holdout rows kept for importance weighting (evenly spaced when there are more).</summary>
    public const int MaxHoldoutSample = 2000;

    /// <summary>
    /// Fits on the labelled rows of a reference (rows without a label are skipped). With the profile's
    /// <paramref name="summary"/>, the holdout's summarised inputs are kept for importance weighting.
    /// </summary>
    public static ConfidenceCalibration Fit(IReadOnlyList<Monitoring.Observation> reference, Monitoring.InputSummary? summary = null)
    {
        ArgumentNullException.ThrowIfNull(reference);
        var labelled = reference.Where(r => r is { Label: not null } && float.IsFinite(r.Confidence) && r.Confidence is >= 0 and <= 1).ToList();
        var fit = Fit(labelled.Select(r => (double)r.Confidence).ToList(), labelled.Select(r => r.Label == r.PredictedClass).ToList()) with
        {
            LabelShift = LabelShiftCalibration.Fit(labelled.Select(r => r.PredictedClass).ToList(), labelled.Select(r => r.Label!.Value).ToList()),
        };
        if (summary is null || summary.OutputWidth > ImportanceWeighting.MaxWidth) return fit;
        var rows = new List<float[]>();
        var correct = new List<bool>();
        int n = labelled.Count, keep = Math.Min(n, MaxHoldoutSample);
        var buffer = new double[summary.OutputWidth];
        for (int k = 0; k < keep; k++)
        {
            var r = labelled[(int)((long)k * n / keep)];
            if (r.Features is null || r.Features.Length != summary.InputWidth) continue;
            summary.Apply(r.Features, buffer);
            rows.Add(buffer.Select(v => (float)v).ToArray());
            correct.Add(r.Label == r.PredictedClass);
        }
        return rows.Count >= MinRows ? fit with { Holdout = new HoldoutSample { Rows = rows, Correct = correct } } : fit;
    }

    /// <summary>Throws <see cref="DriftInputException"/> when the stored values cannot be used.</summary>
    public void Validate()
    {
        if (!(Temperature > 0) || !double.IsFinite(Temperature)) throw new DriftInputException("calibration temperature must be positive");
        if (Rows < 1) throw new DriftInputException("calibration needs rows");
        if (ReferenceAccuracy is < 0 or > 1 || ReferenceEstimatedAccuracy is < 0 or > 1)
            throw new DriftInputException("calibration accuracies must be in [0, 1]");
        Atc?.Validate();
        Holdout?.Validate();
        LabelShift?.Validate();
    }

    internal static double Scale(double confidence, double temperature)
    {
        double p = Math.Clamp(confidence, Eps, 1 - Eps);
        double z = Math.Log(p / (1 - p)) / temperature;
        return 1 / (1 + Math.Exp(-z));
    }

    private static double Nll(List<double> c, List<bool> y, double t)
    {
        double nll = 0;
        for (int i = 0; i < c.Count; i++)
        {
            double s = Math.Clamp(Scale(c[i], t), 1e-12, 1 - 1e-12);
            nll -= y[i] ? Math.Log(s) : Math.Log(1 - s);
        }
        return nll;
    }

    private static double Ece(List<double> c, List<bool> y, double t, int bins = 15)
    {
        var conf = new double[bins];
        var acc = new double[bins];
        var count = new int[bins];
        for (int i = 0; i < c.Count; i++)
        {
            double s = Scale(c[i], t);
            int b = Math.Min(bins - 1, (int)(s * bins));
            conf[b] += s;
            acc[b] += y[i] ? 1 : 0;
            count[b]++;
        }
        double ece = 0;
        for (int b = 0; b < bins; b++)
        {
            if (count[b] > 0) ece += Math.Abs(acc[b] - conf[b]) / c.Count;
        }
        return ece;
    }
}
