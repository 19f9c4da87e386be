using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pipeline.Artifacts;
using Pipeline.ML.Data;
using Pipeline.Storage.Artifacts;
using Pipeline.Storage.Repositories;

namespace Pipeline.Inference;

/// <summary>Why a swap was asked for; only a rollback (or the registry itself) may go to an older version.</summary>
public enum SwapTrigger
{
    Startup,
    Deployed,
    RolledBack,
    Refresh,
}

public enum SwapOutcome
{
    /// <summary>The requested version is now serving.</summary>
    Swapped,

    /// <summary>That version was already serving; nothing changed.</summary>
    AlreadyLoaded,

    /// <summary>A deploy to an older version than the one serving; ignored (only rollbacks go back).</summary>
    SkippedOlder,

    /// <summary>The registry has no production version for the model yet.</summary>
    NoProduction,

    /// <summary>The version could not be loaded (unknown, tampered or unreadable); the old model keeps serving.</summary>
    Refused,
}

public sealed record SwapResult(SwapOutcome Outcome, int? Version, string? Reason = null);

/// <summary>
/// The production model this replica serves, swapped atomically. A new version is loaded, verified
/// (SHA-256 against the registry and the message) and warmed up completely before one reference
/// exchange makes it current; requests that started on the old version finish on it, and the old
/// weights are disposed when the last of them releases its lease.
/// </summary>
public sealed class ProductionModel : IDisposable
{
    private readonly ModelArtifacts artifacts;
    private readonly IModelRegistry registry;
    private readonly InferenceOptions options;
    private readonly TimeProvider time;
    private readonly ILogger<ProductionModel> logger;
    private readonly SemaphoreSlim swapLock = new(1, 1);
    private LoadedModel? current;
    private string? unavailable;
    private bool disposed;

    /// <summary>The service's default model (<c>Inference:ModelId</c>, also served at the bare /predict).</summary>
    public ProductionModel(
        ModelArtifacts artifacts, IModelRegistry registry, IOptions<InferenceOptions> options,
        TimeProvider time, ILogger<ProductionModel> logger)
        : this(options.Value.ModelId, artifacts, registry, options, time, logger)
    {
    }

    internal ProductionModel(
        string modelId, ModelArtifacts artifacts, IModelRegistry registry, IOptions<InferenceOptions> options,
        TimeProvider time, ILogger<ProductionModel> logger)
    {
        ModelId = modelId;
        this.artifacts = artifacts;
        this.registry = registry;
        this.options = options.Value;
        this.time = time;
        this.logger = logger;
    }

    public string ModelId { get; }

    /// <summary>The version serving now, or null before the first load. Use <see cref="TryAcquire"/> to run it.</summary>
    public LoadedModel? Current => Volatile.Read(ref current);

    /// <summary>
    /// Why no version is serving, when one is not: the last refusal (for example a SHA-256 mismatch), no
    /// production version in the registry, or a registry that could not be read. Null before any attempt.
    /// </summary>
    public string? Unavailable => Volatile.Read(ref unavailable);

    /// <summary>Records why a load could not even be attempted (the loader's database error, for example).</summary>
    public void NoteUnavailable(string reason) => Volatile.Write(ref unavailable, reason);

    /// <summary>
    /// Takes a lease on the current version (null when none is loaded). The lease keeps that version
    /// alive however many swaps happen before it is disposed.
    /// </summary>
    public ModelLease? TryAcquire()
    {
        while (true)
        {
            var model = Volatile.Read(ref current);
            if (model is null)
            {
                return null;
            }

            if (model.TryAddReference())
            {
                return new ModelLease(model);
            }

            // It was swapped out and its last lease released between the read and the add; the next
            // read sees the new version.
        }
    }

    /// <summary>Loads whatever the registry's production alias points at (start-up and periodic refresh).</summary>
    public async Task<SwapResult> LoadProductionAsync(SwapTrigger trigger, CancellationToken ct)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        await swapLock.WaitAsync(ct);
        try
        {
            // Read under the swap lock: a deploy event handled between this read and the swap could
            // otherwise be undone by a stale alias.
            var alias = await registry.GetProductionAsync(ModelId, ct);
            if (alias is null)
            {
                if (trigger == SwapTrigger.Startup)
                {
                    logger.LogWarning(
                        "No production version of {ModelId} is registered yet; /predict answers 503 until one is deployed", ModelId);
                }

                NoteUnavailable("the registry has no production version of it.");
                return new SwapResult(SwapOutcome.NoProduction, null);
            }

            return await SwapLockedAsync(alias.Version, null, trigger, ct);
        }
        finally
        {
            swapLock.Release();
        }
    }

    /// <summary>
    /// Makes <paramref name="version"/> current. Deploys to an older version than the one serving are
    /// skipped; rollbacks, start-up and refreshes from the registry may go back. When
    /// <paramref name="expectedSha256"/> is given (from the message) it must match the registry.
    /// Unknown, tampered or unreadable versions are refused and logged; the old model keeps serving.
    /// </summary>
    public async Task<SwapResult> SwapToAsync(int version, string? expectedSha256, SwapTrigger trigger, CancellationToken ct)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        await swapLock.WaitAsync(ct);
        try
        {
            return await SwapLockedAsync(version, expectedSha256, trigger, ct);
        }
        finally
        {
            swapLock.Release();
        }
    }

    private async Task<SwapResult> SwapLockedAsync(int version, string? expectedSha256, SwapTrigger trigger, CancellationToken ct)
    {
        var old = Volatile.Read(ref current);
        if (old?.Version == version)
        {
            logger.LogDebug("{ModelId} v{Version} is already serving ({Trigger})", ModelId, version, trigger);
            return Record(new SwapResult(SwapOutcome.AlreadyLoaded, version));
        }

        if (old is not null && version < old.Version && trigger == SwapTrigger.Deployed)
        {
            logger.LogWarning(
                "Ignored deploy of {ModelId} v{Version}: v{Current} is newer and only a rollback goes back",
                ModelId, version, old.Version);
            return Record(new SwapResult(SwapOutcome.SkippedOlder, version, $"v{old.Version} is newer"));
        }

        LoadedModel loaded;
        try
        {
            loaded = await LoadAsync(version, expectedSha256, ct);
        }
        catch (Exception ex) when (IsRefusal(ex))
        {
            logger.LogError(ex,
                "Refused to swap {ModelId} to v{Version} ({Trigger}): {Reason}; still serving {Serving}",
                ModelId, version, trigger, ex.Message, old is null ? "nothing" : $"v{old.Version}");
            NoteUnavailable($"v{version} was refused at {time.GetUtcNow():yyyy-MM-dd HH:mm:ss} UTC ({trigger}): {ex.Message.TrimEnd('.')}.");
            return Record(new SwapResult(SwapOutcome.Refused, version, ex.Message));
        }

        // The one atomic step: requests that read the old reference keep their lease on it.
        Volatile.Write(ref current, loaded);
        Volatile.Write(ref unavailable, null);
        old?.Release();
        InferenceMetrics.ModelVersion.WithLabels(ModelId).Set(version);
        logger.LogInformation(
            "Serving {ModelId} v{Version} ({Architecture}, sha256 {Sha}) after {Trigger}; previous {Previous}",
            ModelId, version, loaded.Architecture, loaded.Sha256[..Math.Min(12, loaded.Sha256.Length)], trigger,
            old is null ? "none" : $"v{old.Version}");
        return Record(new SwapResult(SwapOutcome.Swapped, version));
    }

    private async Task<LoadedModel> LoadAsync(int version, string? expectedSha256, CancellationToken ct)
    {
        var (bundle, record) = await artifacts.LoadAsync(ModelId, version, options.Device, ct);
        try
        {
            if (expectedSha256 is not null && !string.Equals(expectedSha256, record.Sha256, StringComparison.OrdinalIgnoreCase))
            {
                throw new ModelRefusedException(
                    $"the message's SHA-256 {expectedSha256[..Math.Min(12, expectedSha256.Length)]}… differs from the registry's {record.Sha256[..12]}…");
            }

            if (!record.InputShape.SequenceEqual(bundle.Info.InputShape) || bundle.Info.Classes.Length == 0)
            {
                throw new ModelRefusedException(
                    $"the model takes input [{string.Join(", ", bundle.Info.InputShape)}] with {bundle.Info.Classes.Length} classes; the registry says [{string.Join(", ", record.InputShape)}] and at least one class is needed");
            }

            // Warm up (and prove the weights run) before any request can see the model: one row, then one forward at
            // the serving batch size, so libtorch's kernels and buffers are ready before readiness says so.
            var probe = bundle.Predict([new float[bundle.InputLength]], 1);
            var warm = Math.Min(options.ForwardBatchSize, options.WarmUpRows);
            if (warm > 1)
            {
                // The pass requests take: with the embeddings when they are published.
                using var zeros = TorchSharp.torch.zeros([warm, .. bundle.Info.InputShape.Select(d => (long)d)]);
                if (options.PublishObservations && options.PublishEmbeddings)
                {
                    var (probs, embeddings) = bundle.Serve(zeros, options.ForwardBatchSize);
                    probs.Dispose();
                    embeddings.Dispose();
                }
                else
                {
                    using var _ = bundle.PredictProbabilities(zeros, options.ForwardBatchSize);
                }
            }

            if (probe.Length != 1 || probe[0].Probabilities.Length != bundle.Info.Classes.Length)
            {
                throw new ModelRefusedException("the model's output does not match its class list");
            }

            if (!probe[0].Probabilities.All(float.IsFinite))
            {
                throw new ModelRefusedException("the model produces non-finite probabilities (NaN or infinite weights)");
            }

            return new LoadedModel(ModelId, version, record.Sha256, bundle, time.GetUtcNow());
        }
        catch
        {
            bundle.Dispose();
            throw;
        }
    }

    private static bool IsRefusal(Exception ex) =>
        ex is ArtifactStoreException or ModelNotFoundException or ModelRefusedException or InvalidDataException
            or EndOfStreamException or ArgumentException or InvalidOperationException;

    private SwapResult Record(SwapResult result)
    {
        InferenceMetrics.ModelSwaps.WithLabels(ModelId, result.Outcome.ToString().ToLowerInvariant()).Inc();
        return result;
    }

    public void Dispose()
    {
        if (disposed)
        {
            return;
        }

        disposed = true;
        Interlocked.Exchange(ref current, null)?.Release();
        swapLock.Dispose();
    }
}

/// <summary>A model version that loaded but is not fit to serve (wrong SHA-256, shape or classes).</summary>
public sealed class ModelRefusedException(string message) : Exception(message);
