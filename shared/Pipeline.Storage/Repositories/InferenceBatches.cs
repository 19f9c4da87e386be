using Dapper;
using Pipeline.Storage.Data;
using Pipeline.Storage.Sql;

namespace Pipeline.Storage.Repositories;

/// <summary>A prediction batch as the inference service recorded it: which client made it, and how big it is.</summary>
public sealed record InferenceBatch
{
    public required Guid BatchId { get; init; }
    public required string ModelId { get; init; }
    public required string ClientId { get; init; }
    public required int RowCount { get; init; }

    /// <summary>Stored feature bytes (4 per value).</summary>
    public required long SizeBytes { get; init; }

    /// <summary>When recorded (set by the repository).</summary>
    public DateTimeOffset CreatedAt { get; init; }
}

/// <summary>What one client stored in a window: batches, rows, bytes and the oldest batch's time.</summary>
public sealed record ClientUsage(long Batches, long Rows, long Bytes, DateTimeOffset? Oldest);

/// <summary>A client's storage quota over a rolling window.</summary>
public sealed record StorageQuota(long MaxRows, long MaxBytes, TimeSpan Window);

/// <summary>The answer to a reservation: recorded, or refused with the client's usage in the window.</summary>
public sealed record QuotaReservation(bool Recorded, ClientUsage Usage);

/// <summary>The inference service's record of prediction batches (owned by Inference).</summary>
public interface IInferenceBatchRepository
{
    /// <summary>
    /// Records the batch when the client's batches in the quota's window plus this one stay within
    /// the quota; the check and the insert are one transaction, so concurrent requests cannot both pass.
    /// </summary>
    Task<QuotaReservation> TryRecordAsync(InferenceBatch batch, StorageQuota quota, CancellationToken cancellationToken = default);

    /// <summary>The batch, or null when it was never recorded.</summary>
    Task<InferenceBatch?> GetAsync(Guid batchId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Marks the batch's labels as received; false when they already were (or the batch is unknown). One statement,
    /// so two concurrent feedbacks for one batch cannot both succeed.
    /// </summary>
    Task<bool> TryMarkLabeledAsync(Guid batchId, CancellationToken cancellationToken = default);

    /// <summary>Clears the mark when the labels could not be published after all (so the client may retry).</summary>
    Task UnmarkLabeledAsync(Guid batchId, CancellationToken cancellationToken = default);

    /// <summary>Removes a batch whose observations could not be stored (so its quota is given back and feedback for it is refused).</summary>
    Task<bool> DeleteAsync(Guid batchId, CancellationToken cancellationToken = default);
}

[SqlQueries]
internal static class InferenceBatchSql
{
    public static readonly SqlQuery Usage = new(
        "inference_batches.usage",
        "SELECT COUNT_BIG(*) AS Batches, COALESCE(SUM(CAST(row_count AS BIGINT)), 0) AS [Rows], COALESCE(SUM(size_bytes), 0) AS Bytes, MIN(created_at) AS Oldest " +
        "FROM dbo.inference_batches WITH (UPDLOCK, HOLDLOCK) WHERE client_id = @ClientId AND created_at >= @Since;",
        "SELECT COUNT(*) AS Batches, COALESCE(SUM(row_count), 0) AS \"Rows\", COALESCE(SUM(size_bytes), 0) AS Bytes, MIN(created_at) AS Oldest " +
        "FROM inference_batches WHERE client_id = @ClientId AND created_at >= @Since;");

    public static readonly SqlQuery Insert = new(
        "inference_batches.insert",
        "INSERT INTO dbo.inference_batches (batch_id, model_id, client_id, row_count, size_bytes, created_at) VALUES (@BatchId, @ModelId, @ClientId, @RowCount, @SizeBytes, @CreatedAt);",
        "INSERT INTO inference_batches (batch_id, model_id, client_id, row_count, size_bytes, created_at) VALUES (@BatchId, @ModelId, @ClientId, @RowCount, @SizeBytes, @CreatedAt);");

    public static readonly SqlQuery Get = new(
        "inference_batches.get",
        "SELECT batch_id AS BatchId, model_id AS ModelId, client_id AS ClientId, row_count AS [RowCount], size_bytes AS SizeBytes, created_at AS CreatedAt FROM dbo.inference_batches WHERE batch_id = @BatchId;",
        "SELECT batch_id AS BatchId, model_id AS ModelId, client_id AS ClientId, row_count AS \"RowCount\", size_bytes AS SizeBytes, created_at AS CreatedAt FROM inference_batches WHERE batch_id = @BatchId;");

    public static readonly SqlQuery MarkLabeled = new(
        "inference_batches.mark_labeled",
        "UPDATE dbo.inference_batches SET labeled_at = @Now WHERE batch_id = @BatchId AND labeled_at IS NULL;",
        "UPDATE inference_batches SET labeled_at = @Now WHERE batch_id = @BatchId AND labeled_at IS NULL;");

    public static readonly SqlQuery UnmarkLabeled = new(
        "inference_batches.unmark_labeled",
        "UPDATE dbo.inference_batches SET labeled_at = NULL WHERE batch_id = @BatchId;",
        "UPDATE inference_batches SET labeled_at = NULL WHERE batch_id = @BatchId;");

    public static readonly SqlQuery Delete = new(
        "inference_batches.delete",
        "DELETE FROM dbo.inference_batches WHERE batch_id = @BatchId;",
        "DELETE FROM inference_batches WHERE batch_id = @BatchId;");
}

/// <summary>Dapper implementation of <see cref="IInferenceBatchRepository"/>.</summary>
public sealed class InferenceBatchRepository : RepositoryBase, IInferenceBatchRepository
{
    /// <summary>Creates the repository.</summary>
    public InferenceBatchRepository(IDbConnectionFactory factory, TimeProvider? time = null)
        : base(factory, time)
    {
    }

    /// <inheritdoc />
    public async Task<QuotaReservation> TryRecordAsync(InferenceBatch batch, StorageQuota quota, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(quota);
        ArgumentException.ThrowIfNullOrWhiteSpace(batch.ClientId);
        var now = Now;
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await BeginWriteAsync(c, cancellationToken).ConfigureAwait(false);
        var row = await c.QuerySingleAsync<UsageRow>(Cmd(InferenceBatchSql.Usage, new { batch.ClientId, Since = now - quota.Window }, tx, cancellationToken)).ConfigureAwait(false);
        var usage = new ClientUsage(row.Batches, row.Rows, row.Bytes, row.Oldest);
        if (usage.Rows + batch.RowCount > quota.MaxRows || usage.Bytes + batch.SizeBytes > quota.MaxBytes)
        {
            await tx.RollbackAsync(cancellationToken).ConfigureAwait(false);
            return new QuotaReservation(false, usage);
        }

        await c.ExecuteAsync(Cmd(InferenceBatchSql.Insert, new
        {
            batch.BatchId, batch.ModelId, batch.ClientId, batch.RowCount, batch.SizeBytes, CreatedAt = now,
        }, tx, cancellationToken)).ConfigureAwait(false);
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new QuotaReservation(true, usage);
    }

    /// <inheritdoc />
    public async Task<InferenceBatch?> GetAsync(Guid batchId, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await c.QuerySingleOrDefaultAsync<InferenceBatch>(Cmd(InferenceBatchSql.Get, new { BatchId = batchId }, ct: cancellationToken)).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<bool> TryMarkLabeledAsync(Guid batchId, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await c.ExecuteAsync(Cmd(InferenceBatchSql.MarkLabeled, new { BatchId = batchId, Now }, ct: cancellationToken)).ConfigureAwait(false) > 0;
    }

    /// <inheritdoc />
    public async Task UnmarkLabeledAsync(Guid batchId, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await c.ExecuteAsync(Cmd(InferenceBatchSql.UnmarkLabeled, new { BatchId = batchId }, ct: cancellationToken)).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<bool> DeleteAsync(Guid batchId, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await c.ExecuteAsync(Cmd(InferenceBatchSql.Delete, new { BatchId = batchId }, ct: cancellationToken)).ConfigureAwait(false) > 0;
    }

    private sealed class UsageRow
    {
        public long Batches { get; set; }
        public long Rows { get; set; }
        public long Bytes { get; set; }
        public DateTimeOffset? Oldest { get; set; }
    }
}
