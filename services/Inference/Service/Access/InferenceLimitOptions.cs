using System.ComponentModel.DataAnnotations;

namespace Pipeline.Inference;

/// <summary>
/// Section "Inference:Limits": per-client request rate, this replica's concurrent predictions, and how
/// much observation data one client may store (rows and bytes of its batches in a rolling window).
/// </summary>
public sealed class InferenceLimitOptions : IValidatableObject
{
    public const string Section = "Inference:Limits";

    /// <summary>Requests per second one client may make on the inference routes (token bucket refill).</summary>
    [Range(1, 1_000_000)]
    public int RequestsPerSecond { get; set; } = 50;

    /// <summary>Requests one client may make at once above the steady rate (token bucket size).</summary>
    [Range(1, 1_000_000)]
    public int Burst { get; set; } = 100;

    /// <summary>Predictions this replica runs at the same time, all clients together.</summary>
    [Range(1, 10_000)]
    public int PredictConcurrency { get; set; } = 8;

    /// <summary>Predictions that may wait for a free slot; more are answered 429.</summary>
    [Range(0, 100_000)]
    public int PredictQueue { get; set; } = 32;

    /// <summary>Retry-After of a 429 when the replica is at its concurrency limit.</summary>
    [Range(1, 3600)]
    public int BusyRetryAfterSeconds { get; set; } = 1;

    /// <summary>Most rows of observation batches one client may store per <see cref="QuotaWindow"/>.</summary>
    [Range(1, long.MaxValue)]
    public long MaxStoredRows { get; set; } = 1_000_000;

    /// <summary>Most bytes (feature values × 4) of observation batches one client may store per <see cref="QuotaWindow"/>.</summary>
    [Range(1, long.MaxValue)]
    public long MaxStoredBytes { get; set; } = 4L * 1024 * 1024 * 1024;

    /// <summary>The rolling window the storage quota counts over.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "365.00:00:00")]
    public TimeSpan QuotaWindow { get; set; } = TimeSpan.FromDays(1);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Burst < RequestsPerSecond)
        {
            yield return new ValidationResult(
                $"Inference:Limits:Burst ({Burst}) must be at least RequestsPerSecond ({RequestsPerSecond}).", [nameof(Burst)]);
        }
    }
}
