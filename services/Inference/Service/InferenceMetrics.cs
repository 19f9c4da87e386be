using Prometheus;

namespace Pipeline.Inference;

/// <summary>Prometheus metrics of the inference service.</summary>
public static class InferenceMetrics
{
    public static readonly Counter Predictions = Metrics.CreateCounter(
        "inference_predictions_total", "Rows predicted, by model and version.", "model_id", "version");

    public static readonly Histogram RequestDuration = Metrics.CreateHistogram(
        "inference_request_duration_seconds", "Time to answer an inference HTTP request, by endpoint and status code.",
        new HistogramConfiguration
        {
            LabelNames = ["endpoint", "code"],
            Buckets = Histogram.ExponentialBuckets(0.0005, 2, 16),
        });

    public static readonly Gauge ModelVersion = Metrics.CreateGauge(
        "inference_model_version", "Version of the model this replica serves (0 before the first load).", "model_id");

    public static readonly Counter ModelSwaps = Metrics.CreateCounter(
        "inference_model_swaps_total", "Swap attempts, by model and outcome (swapped, alreadyloaded, skippedolder, noproduction, refused).",
        "model_id", "outcome");

    public static readonly Counter ObservationFailures = Metrics.CreateCounter(
        "inference_observation_failures_total", "Prediction batches whose features could not be stored or published.", "model_id");

    public static readonly Counter RejectedRequests = Metrics.CreateCounter(
        "inference_rejected_requests_total", "Requests answered 4xx/503, by endpoint and status code.", "endpoint", "code");

    public static readonly Gauge EvaluationLag = Metrics.CreateGauge(
        "inference_evaluation_lag_rows", "Rows this replica accepted that drift detection has not evaluated yet, by model.", "model_id");

    public static readonly Counter LimitRejections = Metrics.CreateCounter(
        "inference_limit_rejections_total", "Requests refused by a limit, by endpoint and limit (rate, concurrency, quota, lag).", "endpoint", "limit");

    /// <summary>
    /// Where a served request's time goes, by stage: <c>read</c> (body to rows), <c>validate</c>, <c>ledger</c> (the batch
    /// record and quota), <c>forward</c> (the model, micro-batch wait included), <c>store</c> (the feature and embedding
    /// blobs), <c>publish</c> (ObservationsIngested, confirmed by the broker).
    /// </summary>
    public static readonly Histogram RequestStage = Metrics.CreateHistogram(
        "inference_request_stage_seconds", "Time a served predict request spends in each stage (read, validate, ledger, forward, store, publish).",
        new HistogramConfiguration
        {
            LabelNames = ["stage"],
            Buckets = Histogram.ExponentialBuckets(0.0001, 2, 18),
        });

    public static readonly Histogram ForwardRows = Metrics.CreateHistogram(
        "inference_forward_rows", "Rows per forward pass, by model (several requests' rows when micro-batching is on).",
        new HistogramConfiguration { LabelNames = ["model_id"], Buckets = Histogram.ExponentialBuckets(1, 2, 14) });
}
