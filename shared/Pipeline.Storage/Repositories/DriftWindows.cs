using System.Buffers.Binary;
using Dapper;
using Pipeline.Storage.Data;
using Pipeline.Storage.Sql;

namespace Pipeline.Storage.Repositories;

/// <summary>A model's drift window sequence: the last window id stored and the drifted-window streak after it.</summary>
public sealed record DriftWindowProgress(long LastWindow, int Consecutive);

/// <summary>A stored batch whose rows are not all counted in a closed drift window yet.</summary>
public sealed record PendingObservationBatch
{
    public required string BatchId { get; init; }
    public int ModelVersion { get; init; }
    public int RowCount { get; init; }
    /// <summary>Leading rows already counted (or rejected): the rows from here on are pending.</summary>
    public int RowsDone { get; init; }
    public required string FeaturesUri { get; init; }
    public required string FeaturesSha256 { get; init; }
    /// <summary>The batch's embeddings blob (from the serving forward pass), when it was published with one.</summary>
    public string? EmbeddingsUri { get; init; }
    public string? EmbeddingsSha256 { get; init; }
    public required IReadOnlyList<int> Predictions { get; init; }
    public IReadOnlyList<float>? Confidences { get; init; }
    public IReadOnlyList<int>? Labels { get; init; }
    public DateTimeOffset? AcceptedAt { get; init; }
}

/// <summary><see cref="Rows"/> rows of batch <see cref="BatchId"/> were new in window <see cref="WindowId"/> (sequence <see cref="WindowSeq"/>).</summary>
public sealed record DriftWindowSegment(long WindowSeq, string WindowId, string BatchId, int Rows);

/// <summary>A closed window to store: its report, its place in the model's sequence and the batch rows new in it.</summary>
public sealed record DriftWindowRecord
{
    public required DriftReport Report { get; init; }
    /// <summary>The window's sequence number; the model's stored sequence must be at <c>Sequence - 1</c>.</summary>
    public long Sequence { get; init; }
    /// <summary>Drifted windows in a row after this one (the hysteresis streak a rebuilt monitor resumes).</summary>
    public int Consecutive { get; init; }
    public required IReadOnlyList<(string BatchId, int Rows)> Segments { get; init; }
}

/// <summary>Drift window bookkeeping: which batch rows were counted in which window, and each model's window sequence.</summary>
public interface IDriftWindowRepository
{
    /// <summary>The model's sequence ((0, 0) before its first window).</summary>
    Task<DriftWindowProgress> GetProgressAsync(string modelId, CancellationToken cancellationToken = default);

    /// <summary>Rows of tracked batches of this model version not yet counted in a closed window.</summary>
    Task<long> CountPendingRowsAsync(string modelId, int version, CancellationToken cancellationToken = default);

    /// <summary>Tracked batches of this model version with pending rows, in the order they were received.</summary>
    Task<IReadOnlyList<PendingObservationBatch>> ListPendingAsync(string modelId, int version, CancellationToken cancellationToken = default);

    /// <summary>
    /// Stores a window in one transaction: its report, its segments, the batches' counted rows and the model's
    /// sequence. False (nothing stored) when the sequence is not at <c>Sequence - 1</c>: another replica moved it.
    /// </summary>
    Task<bool> RecordWindowAsync(DriftWindowRecord window, CancellationToken cancellationToken = default);

    /// <summary>Marks rows of a batch as done without a window (the monitor rejected them).</summary>
    Task MarkRowsDoneAsync(string modelId, string batchId, int rows, CancellationToken cancellationToken = default);

    /// <summary>Every stored segment of a model, by window.</summary>
    Task<IReadOnlyList<DriftWindowSegment>> ListSegmentsAsync(string modelId, CancellationToken cancellationToken = default);
}

[SqlQueries]
internal static class DriftWindowSql
{
    public static readonly SqlQuery GetProgress = new(
        "drift_window_state.get",
        "SELECT last_window AS LastWindow, consecutive AS Consecutive FROM dbo.drift_window_state WHERE model_id = @ModelId;",
        "SELECT last_window AS LastWindow, consecutive AS Consecutive FROM drift_window_state WHERE model_id = @ModelId;");

    public static readonly SqlQuery InsertState = new(
        "drift_window_state.insert",
        "INSERT INTO dbo.drift_window_state (model_id, last_window, consecutive, updated_at) VALUES (@ModelId, @Sequence, @Consecutive, @Now);",
        "INSERT INTO drift_window_state (model_id, last_window, consecutive, updated_at) VALUES (@ModelId, @Sequence, @Consecutive, @Now);");

    public static readonly SqlQuery AdvanceState = new(
        "drift_window_state.advance",
        "UPDATE dbo.drift_window_state SET last_window = @Sequence, consecutive = @Consecutive, updated_at = @Now WHERE model_id = @ModelId AND last_window = @Previous;",
        "UPDATE drift_window_state SET last_window = @Sequence, consecutive = @Consecutive, updated_at = @Now WHERE model_id = @ModelId AND last_window = @Previous;");

    public static readonly SqlQuery InsertSegment = new(
        "drift_window_segments.insert",
        "INSERT INTO dbo.drift_window_segments (model_id, window_seq, window_id, batch_id, row_count) VALUES (@ModelId, @Sequence, @WindowId, @BatchId, @Rows);",
        "INSERT INTO drift_window_segments (model_id, window_seq, window_id, batch_id, row_count) VALUES (@ModelId, @Sequence, @WindowId, @BatchId, @Rows);");

    public static readonly SqlQuery AddRowsDone = new(
        "observation_batches.add_drift_rows_done",
        "UPDATE dbo.observation_batches SET drift_rows_done = COALESCE(drift_rows_done, 0) + @Rows WHERE model_id = @ModelId AND batch_id = @BatchId;",
        "UPDATE observation_batches SET drift_rows_done = COALESCE(drift_rows_done, 0) + @Rows WHERE model_id = @ModelId AND batch_id = @BatchId;");

    public static readonly SqlQuery CountPending = new(
        "observation_batches.count_drift_pending",
        "SELECT COALESCE(SUM(CAST(row_count - drift_rows_done AS BIGINT)), 0) FROM dbo.observation_batches WHERE model_id = @ModelId AND model_version = @Version AND drift_rows_done IS NOT NULL AND drift_rows_done < row_count;",
        "SELECT COALESCE(SUM(row_count - drift_rows_done), 0) FROM observation_batches WHERE model_id = @ModelId AND model_version = @Version AND drift_rows_done IS NOT NULL AND drift_rows_done < row_count;");

    private const string PendingColumns =
        "batch_id AS BatchId, model_version AS ModelVersion, row_count AS RowCount, drift_rows_done AS RowsDone, features_uri AS FeaturesUri, " +
        "features_sha256 AS FeaturesSha256, predictions AS Predictions, confidences AS Confidences, labels AS Labels, accepted_at AS AcceptedAt, " +
        "embeddings_uri AS EmbeddingsUri, embeddings_sha256 AS EmbeddingsSha256";

    public static readonly SqlQuery ListPending = new(
        "observation_batches.list_drift_pending",
        $"SELECT {PendingColumns.Replace("AS RowCount", "AS [RowCount]", StringComparison.Ordinal)} FROM dbo.observation_batches WHERE model_id = @ModelId AND model_version = @Version AND drift_rows_done IS NOT NULL AND drift_rows_done < row_count ORDER BY received_at, batch_id;",
        $"SELECT {PendingColumns.Replace("AS RowCount", "AS \"RowCount\"", StringComparison.Ordinal)} FROM observation_batches WHERE model_id = @ModelId AND model_version = @Version AND drift_rows_done IS NOT NULL AND drift_rows_done < row_count ORDER BY received_at, batch_id;");

    public static readonly SqlQuery ListSegments = new(
        "drift_window_segments.list",
        "SELECT window_seq AS WindowSeq, window_id AS WindowId, batch_id AS BatchId, row_count AS [Rows] FROM dbo.drift_window_segments WHERE model_id = @ModelId ORDER BY window_seq, batch_id;",
        "SELECT window_seq AS WindowSeq, window_id AS WindowId, batch_id AS BatchId, row_count AS \"Rows\" FROM drift_window_segments WHERE model_id = @ModelId ORDER BY window_seq, batch_id;");
}

/// <summary>Dapper implementation of <see cref="IDriftWindowRepository"/>.</summary>
public sealed class DriftWindowRepository : RepositoryBase, IDriftWindowRepository
{
    public DriftWindowRepository(IDbConnectionFactory factory, TimeProvider? time = null)
        : base(factory, time)
    {
    }

    public async Task<DriftWindowProgress> GetProgressAsync(string modelId, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        var row = await c.QuerySingleOrDefaultAsync<ProgressRow>(Cmd(DriftWindowSql.GetProgress, new { ModelId = modelId }, ct: cancellationToken)).ConfigureAwait(false);
        return row is null ? new DriftWindowProgress(0, 0) : new DriftWindowProgress(row.LastWindow, row.Consecutive);
    }

    public async Task<long> CountPendingRowsAsync(string modelId, int version, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await c.ExecuteScalarAsync<long>(Cmd(DriftWindowSql.CountPending, new { ModelId = modelId, Version = version }, ct: cancellationToken)).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<PendingObservationBatch>> ListPendingAsync(string modelId, int version, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await c.QueryAsync<PendingRow>(Cmd(DriftWindowSql.ListPending, new { ModelId = modelId, Version = version }, ct: cancellationToken)).ConfigureAwait(false);
        return rows.Select(r => new PendingObservationBatch
        {
            BatchId = r.BatchId, ModelVersion = r.ModelVersion, RowCount = r.RowCount, RowsDone = r.RowsDone, FeaturesUri = r.FeaturesUri,
            FeaturesSha256 = r.FeaturesSha256.Trim(), Predictions = IntArrayCodec.Decode(r.Predictions),
            Confidences = r.Confidences is null ? null : FloatArrayCodec.Decode(r.Confidences),
            Labels = r.Labels is null ? null : IntArrayCodec.Decode(r.Labels), AcceptedAt = r.AcceptedAt,
            EmbeddingsUri = r.EmbeddingsUri, EmbeddingsSha256 = r.EmbeddingsSha256?.Trim(),
        }).ToList();
    }

    public async Task<bool> RecordWindowAsync(DriftWindowRecord window, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(window);
        var report = window.Report;
        var now = Now;
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await BeginWriteAsync(c, cancellationToken).ConfigureAwait(false);
        var state = new { report.ModelId, window.Sequence, Previous = window.Sequence - 1, window.Consecutive, Now = now };
        if (window.Sequence == 1)
        {
            try
            {
                await c.ExecuteAsync(Cmd(DriftWindowSql.InsertState, state, tx, cancellationToken)).ConfigureAwait(false);
            }
            catch (Exception ex) when (IsUniqueViolation(ex))
            {
                await tx.RollbackAsync(cancellationToken).ConfigureAwait(false);
                return false;
            }
        }
        else if (await c.ExecuteAsync(Cmd(DriftWindowSql.AdvanceState, state, tx, cancellationToken)).ConfigureAwait(false) != 1)
        {
            await tx.RollbackAsync(cancellationToken).ConfigureAwait(false);
            return false;
        }

        await c.ExecuteAsync(Cmd(DriftSql.InsertReport, new
        {
            report.Id, report.ModelId, report.ModelVersion, report.WindowId, report.WindowStart, report.WindowEnd, report.RowCount,
            report.DatasetDrift, report.ShareDrifted, report.Severity, report.ReportJson,
            CreatedAt = report.CreatedAt == default ? now : report.CreatedAt,
        }, tx, cancellationToken)).ConfigureAwait(false);
        foreach (var (batchId, rows) in window.Segments)
        {
            await c.ExecuteAsync(Cmd(DriftWindowSql.InsertSegment, new { report.ModelId, window.Sequence, report.WindowId, BatchId = batchId, Rows = rows }, tx, cancellationToken)).ConfigureAwait(false);
            await c.ExecuteAsync(Cmd(DriftWindowSql.AddRowsDone, new { report.ModelId, BatchId = batchId, Rows = rows }, tx, cancellationToken)).ConfigureAwait(false);
        }

        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    public async Task MarkRowsDoneAsync(string modelId, string batchId, int rows, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await c.ExecuteAsync(Cmd(DriftWindowSql.AddRowsDone, new { ModelId = modelId, BatchId = batchId, Rows = rows }, ct: cancellationToken)).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<DriftWindowSegment>> ListSegmentsAsync(string modelId, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await c.QueryAsync<SegmentRow>(Cmd(DriftWindowSql.ListSegments, new { ModelId = modelId }, ct: cancellationToken)).ConfigureAwait(false);
        return rows.Select(r => new DriftWindowSegment(r.WindowSeq, r.WindowId, r.BatchId, r.Rows)).ToList();
    }

    private sealed class ProgressRow
    {
        public long LastWindow { get; set; }
        public int Consecutive { get; set; }
    }

    private sealed class SegmentRow
    {
        public long WindowSeq { get; set; }
        public string WindowId { get; set; } = "";
        public string BatchId { get; set; } = "";
        public int Rows { get; set; }
    }

    private sealed class PendingRow
    {
        public string BatchId { get; set; } = "";
        public int ModelVersion { get; set; }
        public int RowCount { get; set; }
        public int RowsDone { get; set; }
        public string FeaturesUri { get; set; } = "";
        public string FeaturesSha256 { get; set; } = "";
        public byte[] Predictions { get; set; } = [];
        public byte[]? Confidences { get; set; }
        public byte[]? Labels { get; set; }
        public DateTimeOffset? AcceptedAt { get; set; }
        public string? EmbeddingsUri { get; set; }
        public string? EmbeddingsSha256 { get; set; }
    }
}

/// <summary>Packs float arrays as little-endian IEEE 754 single bytes.</summary>
internal static class FloatArrayCodec
{
    public static byte[] Encode(IReadOnlyList<float> values)
    {
        var bytes = new byte[values.Count * sizeof(float)];
        for (var i = 0; i < values.Count; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * sizeof(float)), values[i]);
        }

        return bytes;
    }

    public static float[] Decode(byte[] bytes)
    {
        if (bytes.Length % sizeof(float) != 0)
        {
            throw new InvalidDataException("Float array blob length is not a multiple of 4.");
        }

        var values = new float[bytes.Length / sizeof(float)];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(i * sizeof(float)));
        }

        return values;
    }
}
