using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pipeline.Storage.Repositories;

namespace Pipeline.Inference;

/// <summary>A refusal the handlers turn into a problem answer (with Retry-After when set).</summary>
public sealed record Refusal(int Status, string Title, string Detail, TimeSpan? RetryAfter = null, string? Limit = null);

/// <summary>
/// Which client made which prediction batch (table <c>inference_batches</c>, owned by Inference), so that
/// /feedback is taken only for a batch recorded here and only from the client that made it; and each
/// client's storage quota: rows and bytes of its batches over a rolling window.
/// </summary>
public sealed class ClientBatchLedger(
    IInferenceBatchRepository batches, IOptions<InferenceLimitOptions> limits, TimeProvider time, ILogger<ClientBatchLedger> logger)
{
    private readonly InferenceLimitOptions l = limits.Value;

    /// <summary>
    /// Records the batch against the client's quota. Null when recorded; a 413 when the batch alone is larger than
    /// the quota, a 429 when the client's window is full. Throws when the database fails (the caller decides).
    /// </summary>
    public async Task<Refusal?> RecordAsync(string client, string modelId, Guid batchId, int rows, int width, CancellationToken ct)
    {
        var bytes = (long)rows * width * sizeof(float);
        var quota = new StorageQuota(l.MaxStoredRows, l.MaxStoredBytes, l.QuotaWindow);
        if (rows > quota.MaxRows || bytes > quota.MaxBytes)
        {
            return new Refusal(StatusCodes.Status413PayloadTooLarge, "Batch larger than the storage quota",
                $"This batch ({rows} rows, {bytes} bytes) is larger than the storage quota of client '{client}' " +
                $"({quota.MaxRows} rows and {quota.MaxBytes} bytes per {quota.Window}); send smaller batches.", Limit: "quota");
        }

        var reservation = await batches.TryRecordAsync(
            new InferenceBatch { BatchId = batchId, ModelId = modelId, ClientId = client, RowCount = rows, SizeBytes = bytes }, quota, ct);
        if (reservation.Recorded)
        {
            return null;
        }

        var u = reservation.Usage;
        var retry = u.Oldest is { } oldest ? oldest + quota.Window - time.GetUtcNow() : quota.Window;
        logger.LogWarning("Storage quota of client {ClientId} reached: {Rows} rows, {Bytes} bytes in {Window}", client, u.Rows, u.Bytes, quota.Window);
        return new Refusal(StatusCodes.Status429TooManyRequests, "Storage quota exceeded",
            $"Client '{client}' has stored {u.Rows} rows ({u.Bytes} bytes) of observation batches in the last {quota.Window}; " +
            $"its quota is {quota.MaxRows} rows and {quota.MaxBytes} bytes, and this batch has {rows} rows ({bytes} bytes). " +
            $"Retry after {InferenceAccess.Seconds(retry)} s, when its oldest batches leave the window.",
            retry > TimeSpan.Zero ? retry : TimeSpan.FromSeconds(1), "quota");
    }

    /// <summary>Gives a batch back when its observations could not be stored or published (best effort).</summary>
    public async Task ForgetAsync(Guid batchId)
    {
        try
        {
            await batches.DeleteAsync(batchId, CancellationToken.None);
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "Could not remove the record of batch {BatchId}", batchId);
        }
    }

    /// <summary>
    /// Takes the batch's one feedback: null when these are its first labels, a 409 when labels were already accepted
    /// (they are not replaced). Call after <see cref="CheckFeedbackAsync"/>; throws when the database fails.
    /// </summary>
    public async Task<Refusal?> ClaimFeedbackAsync(Guid batchId, CancellationToken ct) =>
        await batches.TryMarkLabeledAsync(batchId, ct)
            ? null
            : new Refusal(StatusCodes.Status409Conflict, "Labels already received",
                $"Batch {batchId} already has its labels; a batch takes feedback once, and the first labels stand.");

    /// <summary>Gives the batch's feedback back when its labels could not be published (best effort; the client may retry).</summary>
    public async Task ReleaseFeedbackAsync(Guid batchId)
    {
        try
        {
            await batches.UnmarkLabeledAsync(batchId, CancellationToken.None);
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "Could not clear the feedback mark of batch {BatchId}", batchId);
        }
    }

    /// <summary>
    /// Null when <paramref name="client"/> may send <paramref name="labels"/> labels for the batch: it was recorded
    /// here for this model, by this client, with that many rows. Otherwise 404, 403 or 400 with the reason.
    /// </summary>
    public async Task<Refusal?> CheckFeedbackAsync(string client, string modelId, Guid batchId, int labels, CancellationToken ct)
    {
        var batch = await batches.GetAsync(batchId, ct);
        if (batch is null || batch.ModelId != modelId)
        {
            return new Refusal(StatusCodes.Status404NotFound, "Unknown batch",
                $"No prediction batch {batchId} of model '{modelId}' was recorded: send the batchId that POST /predict returned " +
                "for this model (batches are recorded only while Inference:PublishObservations is true).");
        }

        if (!string.Equals(batch.ClientId, client, StringComparison.Ordinal))
        {
            return new Refusal(StatusCodes.Status403Forbidden, "Not your batch",
                $"Batch {batchId} was made by another client; only the client that made a batch may send its labels.");
        }

        return batch.RowCount == labels
            ? null
            : new Refusal(StatusCodes.Status400BadRequest, "Invalid feedback",
                $"Batch {batchId} has {batch.RowCount} rows but {labels} labels were sent; send one label per row, in row order.");
    }
}
