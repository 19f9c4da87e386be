using System.Buffers.Binary;
using Dapper;
using Pipeline.Storage.Data;
using Pipeline.Storage.Sql;

namespace Pipeline.Storage.Repositories;

/// <summary>
/// A batch of production observations. Features live in the artifact store (one blob per batch,
/// row <c>i</c> of the blob is row index <c>i</c>); predictions and labels are kept inline as
/// compact little-endian int32 arrays. Labels may arrive later (by batch id).
/// </summary>
public sealed record ObservationBatch
{
    /// <summary>Label value meaning "not labelled".</summary>
    public const int Unlabelled = -1;

    /// <summary>Model id.</summary>
    public required string ModelId { get; init; }

    /// <summary>Batch id (unique per model).</summary>
    public required string BatchId { get; init; }

    /// <summary>Model version that made the predictions.</summary>
    public int ModelVersion { get; init; }

    /// <summary>Rows in the batch.</summary>
    public int RowCount { get; init; }

    /// <summary>Artifact URI of the features blob.</summary>
    public required string FeaturesUri { get; init; }

    /// <summary>SHA-256 (hex) of the features blob.</summary>
    public required string FeaturesSha256 { get; init; }

    /// <summary>Predicted class per row.</summary>
    public required IReadOnlyList<int> Predictions { get; init; }

    /// <summary>Label per row (<see cref="Unlabelled"/> where unknown), or null when none arrived.</summary>
    public IReadOnlyList<int>? Labels { get; init; }

    /// <summary>How many rows have a label.</summary>
    public int LabelledCount { get; init; }

    /// <summary>When received (set by the repository when default).</summary>
    public DateTimeOffset ReceivedAt { get; init; }

    /// <summary>When labels arrived.</summary>
    public DateTimeOffset? LabelledAt { get; init; }

    /// <summary>The model's confidence per row, when known (DriftDetection rebuilds open windows from it).</summary>
    public IReadOnlyList<float>? Confidences { get; init; }

    /// <summary>Artifact URI of the embeddings blob (rows × embedding width, from the serving forward pass), when published.</summary>
    public string? EmbeddingsUri { get; init; }

    /// <summary>SHA-256 (hex) of the embeddings blob.</summary>
    public string? EmbeddingsSha256 { get; init; }

    /// <summary>When the batch was accepted upstream (the inference API), when known.</summary>
    public DateTimeOffset? AcceptedAt { get; init; }

    /// <summary>
    /// Leading rows already counted in a closed drift window or rejected by the drift monitor; null for a
    /// batch the drift monitor does not track. DriftDetection stores its batches with 0.
    /// </summary>
    public int? DriftRowsDone { get; init; }
}

/// <summary>Counts over a model's observations.</summary>
/// <param name="Batches">Number of batches.</param>
/// <param name="Rows">Total rows.</param>
/// <param name="LabelledRows">Rows with labels.</param>
public sealed record ObservationStats(long Batches, long Rows, long LabelledRows);

/// <summary>Production observations (the adaptation set source).</summary>
public interface IObservationRepository
{
    /// <summary>Stores a batch. False when the batch id exists for the model (redelivery).</summary>
    Task<bool> AddBatchAsync(ObservationBatch batch, CancellationToken cancellationToken = default);

    /// <summary>Attaches labels to a batch (one per row; <see cref="ObservationBatch.Unlabelled"/> for unknown). False when the batch does not exist.</summary>
    Task<bool> SetLabelsAsync(string modelId, string batchId, IReadOnlyList<int> labels, CancellationToken cancellationToken = default);

    /// <summary>Gets a batch.</summary>
    Task<ObservationBatch?> GetBatchAsync(string modelId, string batchId, CancellationToken cancellationToken = default);

    /// <summary>Most recent batches that have labels, newest first, optionally received at/after <paramref name="since"/>.</summary>
    Task<IReadOnlyList<ObservationBatch>> ListLabelledBatchesAsync(string modelId, int limit = 100, DateTimeOffset? since = null, CancellationToken cancellationToken = default);

    /// <summary>Most recent batches, newest first.</summary>
    Task<IReadOnlyList<ObservationBatch>> ListBatchesAsync(string modelId, int limit = 100, CancellationToken cancellationToken = default);

    /// <summary>Batch and row counts.</summary>
    Task<ObservationStats> GetStatsAsync(string modelId, CancellationToken cancellationToken = default);
}

[SqlQueries]
internal static class ObservationSql
{
    public static readonly SqlQuery InsertBatch = new(
        "observation_batches.insert",
        """
        INSERT INTO dbo.observation_batches (model_id, batch_id, model_version, row_count, features_uri, features_sha256, predictions, labels, labelled_count, received_at, labelled_at, confidences, accepted_at, drift_rows_done, embeddings_uri, embeddings_sha256)
        VALUES (@ModelId, @BatchId, @ModelVersion, @RowCount, @FeaturesUri, @FeaturesSha256, @Predictions, @Labels, @LabelledCount, @ReceivedAt, @LabelledAt, @Confidences, @AcceptedAt, @DriftRowsDone, @EmbeddingsUri, @EmbeddingsSha256);
        """,
        """
        INSERT INTO observation_batches (model_id, batch_id, model_version, row_count, features_uri, features_sha256, predictions, labels, labelled_count, received_at, labelled_at, confidences, accepted_at, drift_rows_done, embeddings_uri, embeddings_sha256)
        VALUES (@ModelId, @BatchId, @ModelVersion, @RowCount, @FeaturesUri, @FeaturesSha256, @Predictions, @Labels, @LabelledCount, @ReceivedAt, @LabelledAt, @Confidences, @AcceptedAt, @DriftRowsDone, @EmbeddingsUri, @EmbeddingsSha256);
        """);

    public static readonly SqlQuery GetRowCount = new(
        "observation_batches.get_row_count",
        "SELECT row_count FROM dbo.observation_batches WITH (UPDLOCK, HOLDLOCK) WHERE model_id = @ModelId AND batch_id = @BatchId;",
        "SELECT row_count FROM observation_batches WHERE model_id = @ModelId AND batch_id = @BatchId;");

    public static readonly SqlQuery SetLabels = new(
        "observation_batches.set_labels",
        "UPDATE dbo.observation_batches SET labels = @Labels, labelled_count = @LabelledCount, labelled_at = @Now WHERE model_id = @ModelId AND batch_id = @BatchId;",
        "UPDATE observation_batches SET labels = @Labels, labelled_count = @LabelledCount, labelled_at = @Now WHERE model_id = @ModelId AND batch_id = @BatchId;");

    private const string ColumnsSqlServer =
        "model_id AS ModelId, batch_id AS BatchId, model_version AS ModelVersion, row_count AS [RowCount], features_uri AS FeaturesUri, features_sha256 AS FeaturesSha256, " +
        "predictions AS Predictions, labels AS Labels, labelled_count AS LabelledCount, received_at AS ReceivedAt, labelled_at AS LabelledAt";

    private const string ColumnsSqlite =
        "model_id AS ModelId, batch_id AS BatchId, model_version AS ModelVersion, row_count AS \"RowCount\", features_uri AS FeaturesUri, features_sha256 AS FeaturesSha256, " +
        "predictions AS Predictions, labels AS Labels, labelled_count AS LabelledCount, received_at AS ReceivedAt, labelled_at AS LabelledAt";

    public static readonly SqlQuery GetBatch = new(
        "observation_batches.get",
        $"SELECT {ColumnsSqlServer} FROM dbo.observation_batches WHERE model_id = @ModelId AND batch_id = @BatchId;",
        $"SELECT {ColumnsSqlite} FROM observation_batches WHERE model_id = @ModelId AND batch_id = @BatchId;");

    public static readonly SqlQuery ListLabelled = new(
        "observation_batches.list_labelled",
        $"SELECT TOP (@Limit) {ColumnsSqlServer} FROM dbo.observation_batches WHERE model_id = @ModelId AND labelled_count > 0 AND (@Since IS NULL OR received_at >= @Since) ORDER BY received_at DESC;",
        $"SELECT {ColumnsSqlite} FROM observation_batches WHERE model_id = @ModelId AND labelled_count > 0 AND (@Since IS NULL OR received_at >= @Since) ORDER BY received_at DESC LIMIT @Limit;");

    public static readonly SqlQuery List = new(
        "observation_batches.list",
        $"SELECT TOP (@Limit) {ColumnsSqlServer} FROM dbo.observation_batches WHERE model_id = @ModelId ORDER BY received_at DESC;",
        $"SELECT {ColumnsSqlite} FROM observation_batches WHERE model_id = @ModelId ORDER BY received_at DESC LIMIT @Limit;");

    public static readonly SqlQuery Stats = new(
        "observation_batches.stats",
        "SELECT COUNT_BIG(*) AS Batches, COALESCE(SUM(CAST(row_count AS BIGINT)), 0) AS [Rows], COALESCE(SUM(CAST(labelled_count AS BIGINT)), 0) AS LabelledRows FROM dbo.observation_batches WHERE model_id = @ModelId;",
        "SELECT COUNT(*) AS Batches, COALESCE(SUM(row_count), 0) AS \"Rows\", COALESCE(SUM(labelled_count), 0) AS LabelledRows FROM observation_batches WHERE model_id = @ModelId;");
}

/// <summary>Dapper implementation of <see cref="IObservationRepository"/>.</summary>
public sealed class ObservationRepository : RepositoryBase, IObservationRepository
{
    /// <summary>Creates the repository.</summary>
    public ObservationRepository(IDbConnectionFactory factory, TimeProvider? time = null)
        : base(factory, time)
    {
    }

    /// <inheritdoc />
    public async Task<bool> AddBatchAsync(ObservationBatch batch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentException.ThrowIfNullOrWhiteSpace(batch.ModelId);
        ArgumentException.ThrowIfNullOrWhiteSpace(batch.BatchId);
        ArgumentNullException.ThrowIfNull(batch.Predictions);
        var rowCount = batch.RowCount == 0 ? batch.Predictions.Count : batch.RowCount;
        if (batch.Predictions.Count != rowCount)
        {
            throw new ArgumentException($"Batch has {rowCount} rows but {batch.Predictions.Count} predictions.", nameof(batch));
        }

        if (batch.Labels is not null && batch.Labels.Count != rowCount)
        {
            throw new ArgumentException($"Batch has {rowCount} rows but {batch.Labels.Count} labels.", nameof(batch));
        }

        if (batch.Confidences is not null && batch.Confidences.Count != rowCount)
        {
            throw new ArgumentException($"Batch has {rowCount} rows but {batch.Confidences.Count} confidences.", nameof(batch));
        }

        var now = Now;
        try
        {
            await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
            await c.ExecuteAsync(Cmd(ObservationSql.InsertBatch, new
            {
                batch.ModelId,
                batch.BatchId,
                batch.ModelVersion,
                RowCount = rowCount,
                batch.FeaturesUri,
                batch.FeaturesSha256,
                Predictions = IntArrayCodec.Encode(batch.Predictions),
                Labels = batch.Labels is null ? null : IntArrayCodec.Encode(batch.Labels),
                LabelledCount = batch.Labels?.Count(l => l != ObservationBatch.Unlabelled) ?? 0,
                ReceivedAt = batch.ReceivedAt == default ? now : batch.ReceivedAt,
                LabelledAt = batch.Labels is null ? (DateTimeOffset?)null : now,
                Confidences = batch.Confidences is null ? null : FloatArrayCodec.Encode(batch.Confidences),
                batch.AcceptedAt,
                batch.DriftRowsDone,
                batch.EmbeddingsUri,
                batch.EmbeddingsSha256,
            }, ct: cancellationToken)).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (IsUniqueViolation(ex))
        {
            return false;
        }
    }

    /// <inheritdoc />
    public async Task<bool> SetLabelsAsync(string modelId, string batchId, IReadOnlyList<int> labels, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(labels);
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await BeginWriteAsync(c, cancellationToken).ConfigureAwait(false);
        var rowCount = await c.ExecuteScalarAsync<int?>(Cmd(ObservationSql.GetRowCount, new { ModelId = modelId, BatchId = batchId }, tx, cancellationToken)).ConfigureAwait(false);
        if (rowCount is null)
        {
            await tx.RollbackAsync(cancellationToken).ConfigureAwait(false);
            return false;
        }

        if (rowCount.Value != labels.Count)
        {
            throw new ArgumentException($"Batch {batchId} has {rowCount} rows but {labels.Count} labels were given.", nameof(labels));
        }

        await c.ExecuteAsync(Cmd(ObservationSql.SetLabels, new
        {
            ModelId = modelId,
            BatchId = batchId,
            Labels = IntArrayCodec.Encode(labels),
            LabelledCount = labels.Count(l => l != ObservationBatch.Unlabelled),
            Now,
        }, tx, cancellationToken)).ConfigureAwait(false);
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <inheritdoc />
    public async Task<ObservationBatch?> GetBatchAsync(string modelId, string batchId, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        var row = await c.QuerySingleOrDefaultAsync<BatchRow>(Cmd(ObservationSql.GetBatch, new { ModelId = modelId, BatchId = batchId }, ct: cancellationToken)).ConfigureAwait(false);
        return row?.ToRecord();
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<ObservationBatch>> ListLabelledBatchesAsync(string modelId, int limit = 100, DateTimeOffset? since = null, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await c.QueryAsync<BatchRow>(Cmd(ObservationSql.ListLabelled, new { ModelId = modelId, Limit = limit, Since = since }, ct: cancellationToken)).ConfigureAwait(false);
        return rows.Select(r => r.ToRecord()).ToList();
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<ObservationBatch>> ListBatchesAsync(string modelId, int limit = 100, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await c.QueryAsync<BatchRow>(Cmd(ObservationSql.List, new { ModelId = modelId, Limit = limit }, ct: cancellationToken)).ConfigureAwait(false);
        return rows.Select(r => r.ToRecord()).ToList();
    }

    /// <inheritdoc />
    public async Task<ObservationStats> GetStatsAsync(string modelId, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        var row = await c.QuerySingleAsync<StatsRow>(Cmd(ObservationSql.Stats, new { ModelId = modelId }, ct: cancellationToken)).ConfigureAwait(false);
        return new ObservationStats(row.Batches, row.Rows, row.LabelledRows);
    }

    private sealed class StatsRow
    {
        public long Batches { get; set; }
        public long Rows { get; set; }
        public long LabelledRows { get; set; }
    }

    private sealed class BatchRow
    {
        public string ModelId { get; set; } = "";
        public string BatchId { get; set; } = "";
        public int ModelVersion { get; set; }
        public int RowCount { get; set; }
        public string FeaturesUri { get; set; } = "";
        public string FeaturesSha256 { get; set; } = "";
        public byte[] Predictions { get; set; } = [];
        public byte[]? Labels { get; set; }
        public int LabelledCount { get; set; }
        public DateTimeOffset ReceivedAt { get; set; }
        public DateTimeOffset? LabelledAt { get; set; }

        public ObservationBatch ToRecord() => new()
        {
            ModelId = ModelId,
            BatchId = BatchId,
            ModelVersion = ModelVersion,
            RowCount = RowCount,
            FeaturesUri = FeaturesUri,
            FeaturesSha256 = FeaturesSha256.Trim(),
            Predictions = IntArrayCodec.Decode(Predictions),
            Labels = Labels is null ? null : IntArrayCodec.Decode(Labels),
            LabelledCount = LabelledCount,
            ReceivedAt = ReceivedAt,
            LabelledAt = LabelledAt,
        };
    }
}

/// <summary>Packs int arrays as little-endian int32 bytes.</summary>
internal static class IntArrayCodec
{
    public static byte[] Encode(IReadOnlyList<int> values)
    {
        var bytes = new byte[values.Count * sizeof(int)];
        for (var i = 0; i < values.Count; i++)
        {
            BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(i * sizeof(int)), values[i]);
        }

        return bytes;
    }

    public static int[] Decode(byte[] bytes)
    {
        if (bytes.Length % sizeof(int) != 0)
        {
            throw new InvalidDataException("Int array blob length is not a multiple of 4.");
        }

        var values = new int[bytes.Length / sizeof(int)];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(i * sizeof(int)));
        }

        return values;
    }
}
