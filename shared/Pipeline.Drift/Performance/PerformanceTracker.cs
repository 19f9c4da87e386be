using Pipeline.Drift.Monitoring;

namespace Pipeline.Drift.Performance;

/// <summary>
/// Accuracy evidence of a monitor: sums of each closed window (calibrated confidence, labels in the
/// rows, feedback that arrived since) and the pooled evidence of the current drifted streak (its
/// last <see cref="TriggerOptions.MaxEvidenceWindows"/> windows). Pooling is why a persistent harmless
/// shift does not start a run by chance: the longer it lasts, the tighter the interval around its
/// small true drop. Not thread-safe; the monitor holds its lock.
/// </summary>
public sealed class PerformanceTracker(ConfidenceCalibration? calibration, TriggerOptions options, InputSummary? summary = null)
{
    private readonly bool _weigh = calibration?.Holdout is not null && summary is not null
        && (options.Estimator == AccuracyEstimators.Iw || options.CrossCheck.Contains(AccuracyEstimators.Iw));
    private readonly Queue<PerformanceSums> _streak = new();
    private int _feedbackLabelled;
    private int _feedbackCorrect;

    /// <summary>Labelled rows this monitor has seen in all (labels in batches and feedback).</summary>
    public long LabelsSeen { get; private set; }

    /// <summary>The calibration in use (null: only labels can tell).</summary>
    public ConfidenceCalibration? Calibration => calibration;

    /// <summary>Labels that came back later for rows already seen; counted with the next window.</summary>
    public void AddFeedback(int labelled, int correct)
    {
        if (labelled <= 0) return;
        _feedbackLabelled += labelled;
        _feedbackCorrect += Math.Clamp(correct, 0, labelled);
    }

    /// <summary>Sums of one window's rows plus the feedback pending since the last window.</summary>
    public PerformanceSums Measure(IReadOnlyList<Observation> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        int n = 0, labelled = _feedbackLabelled, correct = _feedbackCorrect, above = 0;
        double sum = 0, sum2 = 0, raw = 0, raw2 = 0;
        long[]? classes = calibration?.LabelShift is { } ls ? new long[ls.Classes] : null;
        foreach (var r in rows)
        {
            if (calibration is not null && float.IsFinite(r.Confidence) && r.Confidence is >= 0 and <= 1)
            {
                double c = calibration.Calibrate(r.Confidence);
                n++;
                sum += c;
                sum2 += c * c;
                raw += r.Confidence;
                raw2 += (double)r.Confidence * r.Confidence;
                if (calibration.Atc?.Above(r.Confidence) == true) above++;
                if (classes is not null && r.PredictedClass >= 0 && r.PredictedClass < classes.Length) classes[r.PredictedClass]++;
            }
            if (r.Label is { } label && r.PredictedClass >= 0)
            {
                labelled++;
                if (label == r.PredictedClass) correct++;
            }
        }
        _feedbackLabelled = 0;
        _feedbackCorrect = 0;
        LabelsSeen += labelled;
        var sums = new PerformanceSums
        {
            Rows = n, SumCalibrated = sum, SumCalibratedSquared = sum2, SumConfidence = raw, SumConfidenceSquared = raw2, AtcAbove = above,
            PredictedClasses = classes, Labelled = labelled, Correct = correct,
        };
        return _weigh && n >= options.MinEstimateRows ? Weigh(sums, rows) : sums;
    }

    /// <summary>Importance weighting of the holdout against this window's summarised inputs.</summary>
    private PerformanceSums Weigh(PerformanceSums sums, IReadOnlyList<Observation> rows)
    {
        var current = new List<double[]>(rows.Count);
        foreach (var r in rows)
        {
            if (r.Features is null || r.Features.Length != summary!.InputWidth) continue;
            var v = new double[summary.OutputWidth];
            summary.Apply(r.Features, v);
            current.Add(v);
        }
        if (ImportanceWeighting.Estimate(calibration!.Holdout!, current) is not { } iw) return sums;
        int k = current.Count;
        return sums with
        {
            IwRows = k, IwWeighted = iw.Accuracy * k, IwVariance = (double)k * k * iw.StandardError * iw.StandardError,
            IwEffectiveRows = iw.EffectiveRows,
        };
    }

    /// <summary>
    /// Records a window: a drifted one joins the streak and the pooled streak is the evidence; a clean
    /// one ends the streak and is its own evidence.
    /// </summary>
    public PerformanceEstimate Record(PerformanceSums window, bool drifted)
    {
        ArgumentNullException.ThrowIfNull(window);
        if (!drifted)
        {
            _streak.Clear();
            return PerformanceEstimate.From(window, 1, calibration, options);
        }
        _streak.Enqueue(window);
        while (_streak.Count > options.MaxEvidenceWindows) _streak.Dequeue();
        var pooled = _streak.Aggregate(new PerformanceSums(), (a, b) => a.Add(b));
        return PerformanceEstimate.From(pooled, _streak.Count, calibration, options);
    }

    /// <summary>A run started (or the run's outcome reset the hysteresis): evidence starts afresh.</summary>
    public void ResetStreak() => _streak.Clear();
}
