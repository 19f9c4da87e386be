using System.Globalization;

namespace Pipeline.Drift.Performance;

/// <summary>When drift is allowed to start an adaptation run.</summary>
public sealed record TriggerOptions
{
    /// <summary>Smallest accuracy drop against the reference (fraction; 0.02 = 2 points) worth a run.</summary>
    public double MinAccuracyDrop { get; init; } = 0.02;
    /// <summary>Two-sided level of the accuracy intervals; a drop is significant when its interval lies above zero.</summary>
    public double ConfidenceLevel { get; init; } = 0.95;
    /// <summary>
    /// Labelled rows in the evidence from which observed accuracy decides instead of the estimate
    /// (labels are the truth; the estimate is a proxy that some shifts bias).
    /// </summary>
    public int MinLabelledRows { get; init; } = 500;
    /// <summary>
    /// When this model's labels come back (some were seen) but too few cover the drift yet, and the
    /// estimate alone says harm: wait up to this many windows after confirmation for the labels
    /// before the estimate decides. 0: never wait.
    /// </summary>
    public int LabelWaitWindows { get; init; } = 3;
    /// <summary>Most recent drifted windows pooled into the accuracy evidence.</summary>
    public int MaxEvidenceWindows { get; init; } = 8;
    /// <summary>False: drift alone starts a run (the behaviour before accuracy was estimated).</summary>
    public bool RequireHarm { get; init; } = true;
    /// <summary>The estimator whose estimate decides (<see cref="AccuracyEstimators"/>; chosen from `bench detect`, docs/drift.md).</summary>
    public string Estimator { get; init; } = AccuracyEstimators.Median;
    /// <summary>Estimators that cross-check it: a disagreement above <see cref="MaxDisagreement"/> makes the harm unknown.</summary>
    public IReadOnlyList<string> CrossCheck { get; init; } = [AccuracyEstimators.Cbpe, AccuracyEstimators.Atc, AccuracyEstimators.Doc, AccuracyEstimators.Iw];
    /// <summary>Widest interval of the estimated drop (full width, fraction) the estimate may decide with.</summary>
    public double MaxIntervalWidth { get; init; } = 0.10;
    /// <summary>Largest spread of the estimated drops (fraction) between the estimator and its cross-checks.</summary>
    public double MaxDisagreement { get; init; } = 0.05;
    /// <summary>Fewest rows in the evidence to estimate accuracy at all; fewer: the window says so and does not decide.</summary>
    public int MinEstimateRows { get; init; } = 100;
    /// <summary>
    /// When the estimate is unsure (harm unknown), wait for labels however long it takes instead of letting
    /// the estimate decide after <see cref="LabelWaitWindows"/> windows.
    /// </summary>
    public bool LabelsRequired { get; init; }

    /// <summary>Normal quantile of the two-sided level.</summary>
    public double Z => NormalQuantile(1 - (1 - ConfidenceLevel) / 2);

    /// <summary>Throws <see cref="DriftInputException"/> when inconsistent.</summary>
    public void Validate()
    {
        if (MinAccuracyDrop is < 0 or >= 1) throw new DriftInputException($"MinAccuracyDrop must be in [0, 1), got {MinAccuracyDrop}.");
        if (!(ConfidenceLevel > 0.5 && ConfidenceLevel < 1)) throw new DriftInputException($"ConfidenceLevel must be in (0.5, 1), got {ConfidenceLevel}.");
        if (MinLabelledRows < 1) throw new DriftInputException("MinLabelledRows must be at least 1.");
        if (MaxEvidenceWindows < 1) throw new DriftInputException("MaxEvidenceWindows must be at least 1.");
        if (LabelWaitWindows < 0) throw new DriftInputException("LabelWaitWindows must not be negative.");
        if (AccuracyEstimators.Problem(Estimator, "Estimator") is { } bad) throw new DriftInputException(bad);
        foreach (var name in CrossCheck ?? [])
        {
            if (AccuracyEstimators.Problem(name, "CrossCheck") is { } wrong) throw new DriftInputException(wrong);
        }
        if (CrossCheck is null) throw new DriftInputException("CrossCheck must be a list (empty: no cross-check).");
        if (!(MaxIntervalWidth > 0) || !(MaxDisagreement > 0)) throw new DriftInputException("MaxIntervalWidth and MaxDisagreement must be positive.");
        if (MinEstimateRows < 1) throw new DriftInputException("MinEstimateRows must be at least 1.");
    }

    // Acklam's rational approximation (relative error < 1.2e-9): enough for an interval.
    private static double NormalQuantile(double p)
    {
        double[] a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00];
        double[] b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01];
        double[] c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00];
        double[] d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00];
        const double low = 0.02425;
        if (p < low)
        {
            double q = Math.Sqrt(-2 * Math.Log(p));
            return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
        }
        if (p > 1 - low) return -NormalQuantile(1 - p);
        double r = p - 0.5, s = r * r;
        return (((((a[0] * s + a[1]) * s + a[2]) * s + a[3]) * s + a[4]) * s + a[5]) * r / (((((b[0] * s + b[1]) * s + b[2]) * s + b[3]) * s + b[4]) * s + 1);
    }
}

/// <summary>What a window's decision was.</summary>
public static class TriggerOutcome
{
    /// <summary>The window is not dataset-drifted.</summary>
    public const string NoDrift = "no_drift";
    /// <summary>Drifted, but not yet for enough windows in a row.</summary>
    public const string DriftPending = "drift_pending";
    /// <summary>Drift confirmed and accuracy significantly down: a run.</summary>
    public const string DriftWithHarm = "drift_with_harm";
    /// <summary>Drift confirmed but accuracy not significantly down by the minimum: recorded, no run.</summary>
    public const string DriftWithoutHarm = "drift_without_harm";
    /// <summary>Drift confirmed, the estimate says harm, labels are coming back but too few yet: wait (bounded) for them.</summary>
    public const string AwaitingLabels = "drift_awaiting_labels";
    /// <summary>Drift confirmed and accuracy cannot be assessed (no calibration, too few labels): drift alone decides.</summary>
    public const string HarmUnknown = "drift_harm_unknown";
    /// <summary>Drift confirmed, the estimate is unsure whether it hurts (wide interval, estimators disagree): labels needed; an alert, no run yet.</summary>
    public const string LabelsNeeded = "drift_labels_needed";
    /// <summary>Drift confirmed, but the evidence has too few rows to estimate accuracy: no decision.</summary>
    public const string TooFewRows = "drift_too_few_rows";
}

/// <summary>A window's decision: whether a run should start, and why, in words.</summary>
public sealed record TriggerDecision(string Outcome, bool StartRun, string Reason);

/// <summary>
/// Acts on harm, not on any change: a run starts only when distribution drift is confirmed (the
/// monitor's hysteresis) AND the accuracy drop against the reference is at least
/// <see cref="TriggerOptions.MinAccuracyDrop"/> with its interval above zero: observed on labels where
/// at least <see cref="TriggerOptions.MinLabelledRows"/> came back, else estimated from calibrated
/// confidence. Pure: the monitor and the benchmark call it.
/// </summary>
public sealed class TriggerPolicy
{
    private readonly TriggerOptions _options;

    /// <summary>Throws <see cref="DriftInputException"/> for invalid options.</summary>
    public TriggerPolicy(TriggerOptions? options = null)
    {
        _options = options ?? new TriggerOptions();
        _options.Validate();
    }

    /// <summary>The options in force.</summary>
    public TriggerOptions Options => _options;

    /// <summary>
    /// Decides one window. <paramref name="labelsExpected"/>: labels for this model have arrived before,
    /// so waiting a little for them beats trusting the estimate alone.
    /// </summary>
    public TriggerDecision Decide(bool datasetDrift, int consecutiveDrifted, int windowsToConfirm, PerformanceEstimate? evidence, bool labelsExpected = false)
    {
        if (!datasetDrift) return new(TriggerOutcome.NoDrift, false, "no dataset drift in this window");
        if (consecutiveDrifted < windowsToConfirm)
        {
            return new(TriggerOutcome.DriftPending, false, Inv($"drift in {consecutiveDrifted} window(s) in a row, {windowsToConfirm} needed to confirm"));
        }

        string confirmed = Inv($"drift confirmed ({consecutiveDrifted} windows in a row)");
        if (!_options.RequireHarm) return new(TriggerOutcome.DriftWithHarm, true, confirmed + "; harm not required by configuration");

        double min = _options.MinAccuracyDrop;
        bool estimated = evidence?.EstimatedDrop is not null;
        bool observed = evidence is { ObservedDrop: not null } && evidence.LabelledRows >= _options.MinLabelledRows;
        if (!estimated && !observed && evidence is { Uncertain: { } few, ReferenceAccuracy: not null })
        {
            return new(TriggerOutcome.TooFewRows, false, $"{confirmed}; {few}: no decision");
        }
        if (!estimated && !observed)
        {
            string why = evidence?.ObservedDrop is not null
                ? Inv($"no calibrated estimate and only {evidence.LabelledRows} labelled rows ({_options.MinLabelledRows} needed)")
                : "no calibrated estimate (the version has no labelled reference) and no labels";
            return new(TriggerOutcome.HarmUnknown, true, $"{confirmed}; accuracy cannot be assessed ({why}): drift alone starts the run");
        }

        var e = evidence!;
        string against = Inv($"against reference {e.ReferenceAccuracy:P1}, minimum drop {Pts(min)}");
        string detail;
        bool harm;
        if (observed)
        {
            harm = e.ObservedDrop >= min && e.ObservedDropLower > 0;
            detail = Inv($"observed accuracy {e.ObservedAccuracy:P1} on {e.LabelledRows} labelled rows, drop {Pts(e.ObservedDrop!.Value)} (lower bound {Pts(e.ObservedDropLower!.Value)})");
            if (estimated)
            {
                detail += Inv($" (estimated drop {Pts(e.EstimatedDrop!.Value)}: labels decide)");
            }
        }
        else
        {
            harm = e.EstimatedDrop >= min && e.EstimatedDropLower > 0;
            detail = Inv($"estimated accuracy ({e.Estimator}) {e.EstimatedAccuracy:P1} [{e.EstimatedLower:P1}, {e.EstimatedUpper:P1}] on {e.Rows} rows, drop {Pts(e.EstimatedDrop!.Value)} (lower bound {Pts(e.EstimatedDropLower!.Value)})");
            int waited = consecutiveDrifted - windowsToConfirm;
            if (e.Uncertain is { } why && !e.AllSayHarm(_options, min))
            {
                string unknown = $"drift, harm unknown: labels needed: {confirmed}; {why}; {detail}, {against}";
                if (_options.LabelsRequired)
                    return new(TriggerOutcome.LabelsNeeded, false, $"{unknown}; waiting for {_options.MinLabelledRows} labelled rows (LabelsRequired)");
                if (waited < _options.LabelWaitWindows)
                    return new(TriggerOutcome.LabelsNeeded, false, Inv($"{unknown}; the estimate decides after {_options.LabelWaitWindows - waited} more window(s) without labels"));
                if (!harm)
                    return new(TriggerOutcome.LabelsNeeded, false, $"{unknown}; an unsure estimate does not call drift harmless: no run");
                detail += $" (unsure: {why})";
            }
            if (harm && labelsExpected && waited < _options.LabelWaitWindows)
            {
                return new(TriggerOutcome.AwaitingLabels, false, Inv(
                    $"{confirmed}; {detail}, {against}; labels come back for this model but only {e.LabelledRows} cover the drift ({_options.MinLabelledRows} decide): waiting for them ({_options.LabelWaitWindows - waited} more window(s) at most)"));
            }
        }

        detail = $"{detail}, {against}";
        return harm
            ? new(TriggerOutcome.DriftWithHarm, true, $"{confirmed} and accuracy hurt: {detail}")
            : new(TriggerOutcome.DriftWithoutHarm, false, $"drift without harm: {confirmed}, but {detail}: no run");
    }

    private static string Pts(double drop) => Inv($"{drop * 100:0.0} points");

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
