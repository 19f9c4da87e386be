using System.Collections.Concurrent;
using System.Globalization;
using Pipeline.Drift.Monitoring;
using Prometheus;

namespace Pipeline.DriftDetection;

/// <summary>DriftDetection's Prometheus metrics (public for tests of their label bounds).</summary>
public static class DriftMetrics
{
    public static readonly Counter Windows = Metrics.CreateCounter(
        "pipeline_drift_windows_total", "Drift windows evaluated, by model and outcome (drifted, clean, error).", "model", "outcome");

    public static readonly Gauge ShareDrifted = Metrics.CreateGauge(
        "pipeline_drift_share_drifted", "Share of features drifted in the latest window.", "model");

    public static readonly Gauge DatasetDriftScore = Metrics.CreateGauge(
        "pipeline_drift_dataset_score", "Dataset drift score of the latest window.", "model");

    public static readonly Counter RowsWithoutEmbedding = Metrics.CreateCounter(
        "pipeline_drift_rows_without_embedding_total",
        "Observation rows published without the serving pass's embeddings while the profile compares embeddings: left out of the embedding MMD (DriftDetection never runs the model on production rows).",
        "model");

    public static readonly Counter RowsRejected = Metrics.CreateCounter(
        "pipeline_drift_rows_rejected_total", "Observation rows the monitor rejected (NaN, wrong width).", "model");

    public static readonly Counter Decisions = Metrics.CreateCounter(
        "pipeline_drift_decisions_total",
        "Trigger decisions per window, by model and outcome (no_drift, drift_pending, drift_with_harm, drift_without_harm, drift_awaiting_labels, drift_harm_unknown, drift_labels_needed, drift_too_few_rows).",
        "model", "outcome");

    public static readonly Gauge EstimatedAccuracy = Metrics.CreateGauge(
        "pipeline_drift_estimated_accuracy", "Accuracy estimated from calibrated confidence (CBPE) for the latest window's evidence.", "model");

    public static readonly Gauge EstimatedAccuracyDrop = Metrics.CreateGauge(
        "pipeline_drift_estimated_accuracy_drop", "Estimated accuracy drop against the reference for the latest window's evidence.", "model");

    public static readonly Gauge LabelsNeeded = Metrics.CreateGauge(
        "pipeline_drift_labels_needed",
        "1 while the model's latest window says \"drift, harm unknown: labels needed\" (the accuracy estimate cannot tell whether the drift hurts), else 0.",
        "model");

    public static readonly Counter RunsStarted = Metrics.CreateCounter(
        "pipeline_adaptation_runs_started_total", "Adaptation runs started, by model and trigger (drift, operator).", "model", "trigger");

    public static readonly Gauge FeatureScore = Metrics.CreateGauge(
        "pipeline_drift_feature_score",
        "Per-feature drift of the latest window (KS statistic for numeric features, Jensen-Shannon distance for categorical ones, 0..1), for the window's most drifted features only (DriftDetection:MetricsTopFeatures).",
        "model", "feature");

    public static readonly Counter LabelledRows = Metrics.CreateCounter(
        "pipeline_feedback_labelled_rows_total", "Prediction rows whose true label came back (with the batch or by feedback), by model and the version that predicted them.",
        "model", "version");

    public static readonly Counter CorrectRows = Metrics.CreateCounter(
        "pipeline_feedback_correct_rows_total", "Labelled prediction rows the model got right, by model and the version that predicted them.",
        "model", "version");

    public static readonly Gauge LiveAccuracy = Metrics.CreateGauge(
        "pipeline_live_accuracy", "Accuracy observed from labels in the latest window's evidence (the window, or the drifted streak it belongs to), by model and version.",
        "model", "version");

    public static readonly Gauge ReferenceAccuracy = Metrics.CreateGauge(
        "pipeline_reference_accuracy", "Accuracy of the version on its reference holdout (what live accuracy is compared with), by model and version.",
        "model", "version");

    private static readonly ConcurrentDictionary<string, string[]> ExportedFeatures = new(StringComparer.Ordinal);

    /// <summary>Counts labelled rows and correct predictions of a batch (labels &lt; 0 are unlabelled rows).</summary>
    public static void RecordLabels(string model, int version, IReadOnlyList<int> predictions, IReadOnlyList<int>? labels)
    {
        if (labels is null)
        {
            return;
        }

        var (labelled, correct) = Feedback.Score(predictions, labels);
        if (labelled == 0)
        {
            return;
        }

        var v = version.ToString(CultureInfo.InvariantCulture);
        LabelledRows.WithLabels(model, v).Inc(labelled);
        CorrectRows.WithLabels(model, v).Inc(correct);
    }

    /// <summary>The window's accuracy evidence and its most drifted features.</summary>
    public static void RecordWindow(string model, int version, WindowReport window, int topFeatures)
    {
        var v = version.ToString(CultureInfo.InvariantCulture);
        if (window.Performance is { } p)
        {
            if (p.ObservedAccuracy is { } observed)
            {
                LiveAccuracy.WithLabels(model, v).Set(observed);
            }

            if (p.ReferenceAccuracy is { } reference)
            {
                ReferenceAccuracy.WithLabels(model, v).Set(reference);
            }
        }

        if (window.Trigger is { } trigger)
        {
            LabelsNeeded.WithLabels(model).Set(trigger.Outcome == Drift.Performance.TriggerOutcome.LabelsNeeded ? 1 : 0);
        }

        if (window.Status == WindowStatus.Evaluated)
        {
            RecordTopFeatures(model, window.Features, topFeatures);
        }
    }

    /// <summary>
    /// Exports the <paramref name="k"/> most drifted features of the window (drifted first, then by
    /// p-value, then by score) and removes the series of features that left the top: at most k series
    /// per model, whatever the number of features.
    /// </summary>
    public static void RecordTopFeatures(string model, IReadOnlyList<FeatureScore> features, int k)
    {
        var top = TopFeatures(features, k);
        var names = top.Select(f => f.Name).ToArray();
        // Callers hold the model's lock (MonitorRegistry.LockAsync), so read-then-replace is safe.
        var previous = ExportedFeatures.TryGetValue(model, out var old) ? old : [];
        ExportedFeatures[model] = names;
        foreach (var gone in previous.Except(names, StringComparer.Ordinal))
        {
            FeatureScore.RemoveLabelled(model, gone);
        }

        foreach (var f in top)
        {
            FeatureScore.WithLabels(model, f.Name).Set(Score(f));
        }
    }

    public static IReadOnlyList<FeatureScore> TopFeatures(IReadOnlyList<FeatureScore> features, int k) =>
        k <= 0
            ? []
            : features
                .OrderByDescending(f => f.Drifted)
                .ThenBy(f => f.PValue ?? double.MaxValue)
                .ThenByDescending(Score)
                .ThenBy(f => f.Name, StringComparer.Ordinal)
                .Take(k)
                .ToList();

    /// <summary>A 0..1 drift score: the KS statistic of a numeric feature, the Jensen-Shannon distance of a categorical one.</summary>
    public static double Score(FeatureScore f) => Math.Clamp(f.KsStatistic ?? f.JensenShannon ?? 0, 0, 1);
}
