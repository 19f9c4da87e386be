using Prometheus;

namespace Pipeline.DriftDetection;

internal static class DriftMetrics
{
    public static readonly Counter Windows = Metrics.CreateCounter(
        "pipeline_drift_windows_total", "Drift windows evaluated, by model and outcome (drifted, clean, error).", "model", "outcome");

    public static readonly Gauge ShareDrifted = Metrics.CreateGauge(
        "pipeline_drift_share_drifted", "Share of features drifted in the latest window.", "model");

    public static readonly Gauge DatasetDriftScore = Metrics.CreateGauge(
        "pipeline_drift_dataset_score", "Dataset drift score of the latest window.", "model");

    public static readonly Counter RowsRejected = Metrics.CreateCounter(
        "pipeline_drift_rows_rejected_total", "Observation rows the monitor rejected (NaN, wrong width).", "model");

    public static readonly Counter Decisions = Metrics.CreateCounter(
        "pipeline_drift_decisions_total",
        "Trigger decisions per window, by model and outcome (no_drift, drift_pending, drift_with_harm, drift_without_harm, drift_awaiting_labels, drift_harm_unknown).",
        "model", "outcome");

    public static readonly Gauge EstimatedAccuracy = Metrics.CreateGauge(
        "pipeline_drift_estimated_accuracy", "Accuracy estimated from calibrated confidence (CBPE) for the latest window's evidence.", "model");

    public static readonly Gauge EstimatedAccuracyDrop = Metrics.CreateGauge(
        "pipeline_drift_estimated_accuracy_drop", "Estimated accuracy drop against the reference for the latest window's evidence.", "model");

    public static readonly Counter RunsStarted = Metrics.CreateCounter(
        "pipeline_adaptation_runs_started_total", "Adaptation runs started, by model and trigger (drift, operator).", "model", "trigger");
}
