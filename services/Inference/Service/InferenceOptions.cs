using System.ComponentModel.DataAnnotations;
using Pipeline.Contracts.Validation;

namespace Pipeline.Inference;

/// <summary>Section "Inference".</summary>
public sealed class InferenceOptions : IValidatableObject
{
    public const string Section = "Inference";

    /// <summary>The largest <see cref="MaxBatchRows"/> accepted.</summary>
    public const int MaxBatchRowsCap = 32_768;

    /// <summary>The model whose production version this service serves.</summary>
    [Required]
    public string ModelId { get; set; } = "fashion-mnist";

    /// <summary>Torch device: "auto" (CUDA when available), "cpu", "cuda" or "cuda:N".</summary>
    [Required]
    public string Device { get; set; } = "auto";

    /// <summary>
    /// Most rows one POST /predict may carry. At most <see cref="MaxBatchRowsCap"/>, so that ObservationsIngested
    /// (one prediction and one confidence per row) stays far below the broker's max_message_size.
    /// </summary>
    [Range(1, MaxBatchRowsCap)]
    public int MaxBatchRows { get; set; } = 4096;

    /// <summary>Rows per forward pass inside one request (bounds memory for large requests).</summary>
    [Range(1, 65_536)]
    public int ForwardBatchSize { get; set; } = 512;

    /// <summary>Rows of the warm-up forward each loaded version runs before it serves (at most <see cref="ForwardBatchSize"/>).</summary>
    [Range(1, 65_536)]
    public int WarmUpRows { get; set; } = 100;

    /// <summary>
    /// libtorch intra-op threads for this process (torch.set_num_threads); 0 keeps libtorch's default (one per core).
    /// Measured on the 2-core machine: docs/inference.md, "Threads and micro-batching".
    /// </summary>
    [Range(0, 256)]
    public int TorchThreads { get; set; }

    /// <summary>
    /// Micro-batching across requests: requests for the same version that wait together share one forward pass of at
    /// most this many rows (a request of this many rows or more runs alone). Zero turns it off (the default): each
    /// request runs its own pass. Measured effect: README "Performance", micro-batching.
    /// </summary>
    [Range(0, MaxBatchRowsCap)]
    public int MicroBatchMaxRows { get; set; }

    /// <summary>With micro-batching on, how long the first waiting request waits for others before its pass runs.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:01")]
    public TimeSpan MicroBatchMaxDelay { get; set; } = TimeSpan.FromMilliseconds(2);

    /// <summary>
    /// Most rows this replica may have accepted per model that drift detection has not evaluated yet; beyond it the
    /// predict routes answer 503 with Retry-After. Zero turns the bound off. The last, unfilled window counts too, so
    /// keep it well above DriftDetection:WindowSize.
    /// </summary>
    [Range(0, 100_000_000)]
    public long MaxLagRows { get; set; } = 20_000;

    /// <summary>A batch no drift window names within this time stops counting as lag (its message was lost or refused).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan LagExpiry { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Store each request's features and publish ObservationsIngested (drift monitoring).</summary>
    public bool PublishObservations { get; set; } = true;

    /// <summary>
    /// Store the embeddings of each request's forward pass beside its features and name them in
    /// ObservationsIngested, so DriftDetection never runs the model on production rows (off: its MMD then leaves
    /// these rows out).
    /// </summary>
    public bool PublishEmbeddings { get; set; } = true;

    /// <summary>
    /// How often the registry's production alias is compared with the loaded version, as a safety net
    /// for deploy/rollback events missed while this replica was disconnected. Zero disables it.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Identifies this replica in its deploy/rollback queue name (every replica gets its own temporary
    /// queue). Default: the machine name plus a random suffix, new on every start.
    /// </summary>
    [RegularExpression("^[a-z0-9][a-z0-9-]{0,47}$", ErrorMessage = "Inference:InstanceId must be 1-48 characters of a-z, 0-9 and '-'.")]
    public string? InstanceId { get; set; }

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!Rules.IsValidModelId(ModelId))
        {
            yield return new ValidationResult(
                "Inference:ModelId must be 1-64 characters of a-z, 0-9, '.', '_' or '-'.", [nameof(ModelId)]);
        }

        var device = Device?.Trim().ToLowerInvariant();
        if (device is not ("auto" or "cpu") && (device is null || !device.StartsWith("cuda", StringComparison.Ordinal)))
        {
            yield return new ValidationResult("Inference:Device must be auto, cpu, cuda or cuda:N.", [nameof(Device)]);
        }
    }
}
