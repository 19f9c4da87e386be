using Prometheus;

namespace Pipeline.Hosting;

/// <summary>Prometheus metrics every service shares. Names follow Prometheus conventions (unit suffixes, _total).</summary>
public static class PipelineMetrics
{
    public static readonly Counter InvalidMessages = Metrics.CreateCounter(
        "pipeline_invalid_messages_total", "Messages rejected by validation, by message type.", "message_type");

    public static readonly Counter ConsumedMessages = Metrics.CreateCounter(
        "pipeline_consumed_messages_total",
        "Messages handled by pipeline consumers, by message type and outcome (ok, invalid, rejected, error).",
        "message_type", "outcome");

    public static readonly Counter RunsFinished = Metrics.CreateCounter(
        "pipeline_adaptation_runs_finished_total", "Adaptation runs that ended, by model and outcome (deployed, rejected, failed).",
        "model", "outcome");

    public static readonly Histogram ConsumeDuration = Metrics.CreateHistogram(
        "pipeline_consume_duration_seconds", "Time spent in a consumer, by message type.",
        new HistogramConfiguration
        {
            LabelNames = ["message_type"],
            Buckets = Histogram.ExponentialBuckets(0.001, 4, 10),
        });
}
