using System.Text.Json;
using Dapper;
using Pipeline.Storage.Data;
using Pipeline.Storage.Sql;

namespace Pipeline.Storage.Repositories;

/// <summary>A registered model (the thing versions belong to).</summary>
public sealed record RegisteredModel
{
    /// <summary>Model id.</summary>
    public required string ModelId { get; init; }

    /// <summary>Optional display name.</summary>
    public string? DisplayName { get; init; }

    /// <summary>When the model was first registered.</summary>
    public DateTimeOffset CreatedAt { get; init; }
}

/// <summary>One immutable model version.</summary>
public sealed record ModelVersionRecord
{
    /// <summary>Model id.</summary>
    public required string ModelId { get; init; }

    /// <summary>Version number (1, 2, …).</summary>
    public required int Version { get; init; }

    /// <summary>Artifact URI of the weights.</summary>
    public required string ArtifactUri { get; init; }

    /// <summary>SHA-256 (hex) of the weights.</summary>
    public required string Sha256 { get; init; }

    /// <summary>Architecture name, e.g. cnn-small.</summary>
    public required string Architecture { get; init; }

    /// <summary>Input shape without the batch dimension, e.g. [1, 28, 28].</summary>
    public required IReadOnlyList<int> InputShape { get; init; }

    /// <summary>Class labels in output order.</summary>
    public required IReadOnlyList<string> Classes { get; init; }

    /// <summary>Total parameter count.</summary>
    public long ParamsTotal { get; init; }

    /// <summary>Creation time (set by the registry when default).</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>Who created it (user or service).</summary>
    public required string CreatedBy { get; init; }

    /// <summary>Free-form JSON metadata.</summary>
    public string? MetadataJson { get; init; }
}

/// <summary>Model registry: models, versions and the production alias with history.</summary>
public interface IModelRegistry
{
    /// <summary>Creates the model row when missing. Returns true when it was created.</summary>
    Task<bool> EnsureModelAsync(string modelId, string? displayName = null, CancellationToken cancellationToken = default);

    /// <summary>Gets a model.</summary>
    Task<RegisteredModel?> GetModelAsync(string modelId, CancellationToken cancellationToken = default);

    /// <summary>Lists models by id.</summary>
    Task<IReadOnlyList<RegisteredModel>> ListModelsAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Registers a version (creating the model row when missing). Returns false, without
    /// changing anything, when that version already exists (idempotent on redelivery).
    /// </summary>
    Task<bool> RegisterVersionAsync(ModelVersionRecord version, CancellationToken cancellationToken = default);

    /// <summary>Gets one version.</summary>
    Task<ModelVersionRecord?> GetVersionAsync(string modelId, int version, CancellationToken cancellationToken = default);

    /// <summary>All versions of a model, ascending.</summary>
    Task<IReadOnlyList<ModelVersionRecord>> ListVersionsAsync(string modelId, CancellationToken cancellationToken = default);

    /// <summary>The highest version number, or null.</summary>
    Task<int?> GetLatestVersionNumberAsync(string modelId, CancellationToken cancellationToken = default);

    /// <summary>The production alias, or null.</summary>
    Task<ProductionAlias?> GetProductionAsync(string modelId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Points production at <paramref name="version"/> unconditionally and records history.
    /// Returns the previous version (null when there was none).
    /// </summary>
    Task<int?> SetProductionAsync(string modelId, int version, string setBy, string? reason = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Compare-and-set: points production at <paramref name="version"/> only when the current
    /// production version equals <paramref name="expectedCurrentVersion"/> (null: no alias yet).
    /// </summary>
    Task<bool> TrySetProductionAsync(string modelId, int? expectedCurrentVersion, int version, string setBy, string? reason = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Compare-and-set as <see cref="TrySetProductionAsync"/>, recording in the history what moved the alias
    /// (<paramref name="kind"/>: why the current version leaves production).
    /// </summary>
    Task<bool> TryMoveProductionAsync(string modelId, int? expectedCurrentVersion, int version, AliasChangeKind kind, string setBy, string? reason, CancellationToken cancellationToken = default);

    /// <summary>Production alias history, newest first.</summary>
    Task<IReadOnlyList<ProductionAliasChange>> GetProductionHistoryAsync(string modelId, int limit = 100, CancellationToken cancellationToken = default);
}

[SqlQueries]
internal static class ModelRegistrySql
{
    public static readonly SqlQuery InsertModelIfMissing = new(
        "models.insert_if_missing",
        """
        INSERT INTO dbo.models (model_id, display_name, created_at)
        SELECT @ModelId, @DisplayName, @Now
        WHERE NOT EXISTS (SELECT 1 FROM dbo.models WITH (UPDLOCK, HOLDLOCK) WHERE model_id = @ModelId);
        """,
        "INSERT INTO models (model_id, display_name, created_at) VALUES (@ModelId, @DisplayName, @Now) ON CONFLICT (model_id) DO NOTHING;");

    private const string ModelColumns = "model_id AS ModelId, display_name AS DisplayName, created_at AS CreatedAt";

    public static readonly SqlQuery GetModel = new(
        "models.get",
        $"SELECT {ModelColumns} FROM dbo.models WHERE model_id = @ModelId;",
        $"SELECT {ModelColumns} FROM models WHERE model_id = @ModelId;");

    public static readonly SqlQuery ListModels = new(
        "models.list",
        $"SELECT {ModelColumns} FROM dbo.models ORDER BY model_id;",
        $"SELECT {ModelColumns} FROM models ORDER BY model_id;");

    public static readonly SqlQuery InsertVersionIfMissing = new(
        "model_versions.insert_if_missing",
        """
        INSERT INTO dbo.model_versions (model_id, version, artifact_uri, sha256, architecture, input_shape, classes, params_total, created_at, created_by, metadata)
        SELECT @ModelId, @Version, @ArtifactUri, @Sha256, @Architecture, @InputShape, @Classes, @ParamsTotal, @CreatedAt, @CreatedBy, @Metadata
        WHERE NOT EXISTS (SELECT 1 FROM dbo.model_versions WITH (UPDLOCK, HOLDLOCK) WHERE model_id = @ModelId AND version = @Version);
        """,
        """
        INSERT INTO model_versions (model_id, version, artifact_uri, sha256, architecture, input_shape, classes, params_total, created_at, created_by, metadata)
        VALUES (@ModelId, @Version, @ArtifactUri, @Sha256, @Architecture, @InputShape, @Classes, @ParamsTotal, @CreatedAt, @CreatedBy, @Metadata)
        ON CONFLICT (model_id, version) DO NOTHING;
        """);

    private const string VersionColumns =
        "model_id AS ModelId, version AS Version, artifact_uri AS ArtifactUri, sha256 AS Sha256, architecture AS Architecture, " +
        "input_shape AS InputShape, classes AS Classes, params_total AS ParamsTotal, created_at AS CreatedAt, created_by AS CreatedBy, metadata AS Metadata";

    public static readonly SqlQuery GetVersion = new(
        "model_versions.get",
        $"SELECT {VersionColumns} FROM dbo.model_versions WHERE model_id = @ModelId AND version = @Version;",
        $"SELECT {VersionColumns} FROM model_versions WHERE model_id = @ModelId AND version = @Version;");

    public static readonly SqlQuery ListVersions = new(
        "model_versions.list",
        $"SELECT {VersionColumns} FROM dbo.model_versions WHERE model_id = @ModelId ORDER BY version;",
        $"SELECT {VersionColumns} FROM model_versions WHERE model_id = @ModelId ORDER BY version;");

    public static readonly SqlQuery LatestVersionNumber = new(
        "model_versions.latest_number",
        "SELECT MAX(version) FROM dbo.model_versions WHERE model_id = @ModelId;",
        "SELECT MAX(version) FROM model_versions WHERE model_id = @ModelId;");

    private const string AliasColumns = "model_id AS ModelId, version AS Version, set_at AS SetAt, set_by AS SetBy, reason AS Reason";

    public static readonly SqlQuery GetProduction = new(
        "production_aliases.get",
        $"SELECT {AliasColumns} FROM dbo.production_aliases WHERE model_id = @ModelId;",
        $"SELECT {AliasColumns} FROM production_aliases WHERE model_id = @ModelId;");

    public static readonly SqlQuery GetProductionVersionForUpdate = new(
        "production_aliases.get_version_for_update",
        "SELECT version FROM dbo.production_aliases WITH (UPDLOCK, HOLDLOCK) WHERE model_id = @ModelId;",
        "SELECT version FROM production_aliases WHERE model_id = @ModelId;");

    public static readonly SqlQuery UpsertProduction = new(
        "production_aliases.upsert",
        """
        UPDATE dbo.production_aliases SET version = @Version, set_at = @Now, set_by = @SetBy, reason = @Reason WHERE model_id = @ModelId;
        IF @@ROWCOUNT = 0
            INSERT INTO dbo.production_aliases (model_id, version, set_at, set_by, reason) VALUES (@ModelId, @Version, @Now, @SetBy, @Reason);
        """,
        """
        INSERT INTO production_aliases (model_id, version, set_at, set_by, reason) VALUES (@ModelId, @Version, @Now, @SetBy, @Reason)
        ON CONFLICT (model_id) DO UPDATE SET version = excluded.version, set_at = excluded.set_at, set_by = excluded.set_by, reason = excluded.reason;
        """);

    public static readonly SqlQuery InsertProductionHistory = new(
        "production_alias_history.insert",
        "INSERT INTO dbo.production_alias_history (model_id, from_version, to_version, changed_at, changed_by, reason, change_kind) VALUES (@ModelId, @FromVersion, @Version, @Now, @SetBy, @Reason, @Kind);",
        "INSERT INTO production_alias_history (model_id, from_version, to_version, changed_at, changed_by, reason, change_kind) VALUES (@ModelId, @FromVersion, @Version, @Now, @SetBy, @Reason, @Kind);");

    private const string HistoryColumns =
        "id AS Id, model_id AS ModelId, from_version AS FromVersion, to_version AS ToVersion, changed_at AS ChangedAt, changed_by AS ChangedBy, reason AS Reason, change_kind AS Kind";

    public static readonly SqlQuery ListProductionHistory = new(
        "production_alias_history.list",
        $"SELECT TOP (@Limit) {HistoryColumns} FROM dbo.production_alias_history WHERE model_id = @ModelId ORDER BY id DESC;",
        $"SELECT {HistoryColumns} FROM production_alias_history WHERE model_id = @ModelId ORDER BY id DESC LIMIT @Limit;");
}

/// <summary>Dapper implementation of <see cref="IModelRegistry"/>.</summary>
public sealed class ModelRegistry : RepositoryBase, IModelRegistry
{
    /// <summary>Creates the registry.</summary>
    public ModelRegistry(IDbConnectionFactory factory, TimeProvider? time = null)
        : base(factory, time)
    {
    }

    /// <inheritdoc />
    public async Task<bool> EnsureModelAsync(string modelId, string? displayName = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(modelId);
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await EnsureModelAsync(c, null, modelId, displayName, cancellationToken).ConfigureAwait(false);
    }

    private async Task<bool> EnsureModelAsync(System.Data.Common.DbConnection c, System.Data.Common.DbTransaction? tx, string modelId, string? displayName, CancellationToken ct) =>
        await c.ExecuteAsync(Cmd(ModelRegistrySql.InsertModelIfMissing, new { ModelId = modelId, DisplayName = displayName, Now }, tx, ct)).ConfigureAwait(false) > 0;

    /// <inheritdoc />
    public async Task<RegisteredModel?> GetModelAsync(string modelId, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await c.QuerySingleOrDefaultAsync<RegisteredModel>(Cmd(ModelRegistrySql.GetModel, new { ModelId = modelId }, ct: cancellationToken)).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<RegisteredModel>> ListModelsAsync(CancellationToken cancellationToken = default)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return (await c.QueryAsync<RegisteredModel>(Cmd(ModelRegistrySql.ListModels, ct: cancellationToken)).ConfigureAwait(false)).ToList();
    }

    /// <inheritdoc />
    public async Task<bool> RegisterVersionAsync(ModelVersionRecord version, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(version);
        ArgumentException.ThrowIfNullOrWhiteSpace(version.ModelId);
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await BeginWriteAsync(c, cancellationToken).ConfigureAwait(false);
        await EnsureModelAsync(c, tx, version.ModelId, null, cancellationToken).ConfigureAwait(false);
        var inserted = await c.ExecuteAsync(Cmd(ModelRegistrySql.InsertVersionIfMissing, new
        {
            version.ModelId,
            version.Version,
            version.ArtifactUri,
            version.Sha256,
            version.Architecture,
            InputShape = JsonSerializer.Serialize(version.InputShape),
            Classes = JsonSerializer.Serialize(version.Classes),
            version.ParamsTotal,
            CreatedAt = version.CreatedAt == default ? Now : version.CreatedAt,
            version.CreatedBy,
            Metadata = version.MetadataJson,
        }, tx, cancellationToken)).ConfigureAwait(false);
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return inserted > 0;
    }

    /// <inheritdoc />
    public async Task<ModelVersionRecord?> GetVersionAsync(string modelId, int version, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        var row = await c.QuerySingleOrDefaultAsync<VersionRow>(Cmd(ModelRegistrySql.GetVersion, new { ModelId = modelId, Version = version }, ct: cancellationToken)).ConfigureAwait(false);
        return row?.ToRecord();
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<ModelVersionRecord>> ListVersionsAsync(string modelId, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await c.QueryAsync<VersionRow>(Cmd(ModelRegistrySql.ListVersions, new { ModelId = modelId }, ct: cancellationToken)).ConfigureAwait(false);
        return rows.Select(r => r.ToRecord()).ToList();
    }

    /// <inheritdoc />
    public async Task<int?> GetLatestVersionNumberAsync(string modelId, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await c.ExecuteScalarAsync<int?>(Cmd(ModelRegistrySql.LatestVersionNumber, new { ModelId = modelId }, ct: cancellationToken)).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<ProductionAlias?> GetProductionAsync(string modelId, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await c.QuerySingleOrDefaultAsync<ProductionAlias>(Cmd(ModelRegistrySql.GetProduction, new { ModelId = modelId }, ct: cancellationToken)).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<int?> SetProductionAsync(string modelId, int version, string setBy, string? reason = null, CancellationToken cancellationToken = default)
    {
        var (_, previous) = await SetProductionCoreAsync(modelId, false, null, version, AliasChangeKind.Set, setBy, reason, cancellationToken).ConfigureAwait(false);
        return previous;
    }

    /// <inheritdoc />
    public Task<bool> TrySetProductionAsync(string modelId, int? expectedCurrentVersion, int version, string setBy, string? reason = null, CancellationToken cancellationToken = default) =>
        TryMoveProductionAsync(modelId, expectedCurrentVersion, version, AliasChangeKind.Set, setBy, reason, cancellationToken);

    /// <inheritdoc />
    public async Task<bool> TryMoveProductionAsync(string modelId, int? expectedCurrentVersion, int version, AliasChangeKind kind, string setBy, string? reason, CancellationToken cancellationToken = default)
    {
        var (changed, _) = await SetProductionCoreAsync(modelId, true, expectedCurrentVersion, version, kind, setBy, reason, cancellationToken).ConfigureAwait(false);
        return changed;
    }

    private async Task<(bool Changed, int? Previous)> SetProductionCoreAsync(
        string modelId, bool conditional, int? expected, int version, AliasChangeKind kind, string setBy, string? reason, CancellationToken ct)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(modelId);
        ArgumentException.ThrowIfNullOrWhiteSpace(setBy);
        await using var c = await OpenAsync(ct).ConfigureAwait(false);
        await using var tx = await BeginWriteAsync(c, ct).ConfigureAwait(false);
        var current = await c.ExecuteScalarAsync<int?>(Cmd(ModelRegistrySql.GetProductionVersionForUpdate, new { ModelId = modelId }, tx, ct)).ConfigureAwait(false);
        if (conditional && current != expected)
        {
            await tx.RollbackAsync(ct).ConfigureAwait(false);
            return (false, current);
        }

        var args = new { ModelId = modelId, Version = version, Now, SetBy = setBy, Reason = reason, FromVersion = current, Kind = kind.ToString() };
        await c.ExecuteAsync(Cmd(ModelRegistrySql.UpsertProduction, args, tx, ct)).ConfigureAwait(false);
        await c.ExecuteAsync(Cmd(ModelRegistrySql.InsertProductionHistory, args, tx, ct)).ConfigureAwait(false);
        await tx.CommitAsync(ct).ConfigureAwait(false);
        return (true, current);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<ProductionAliasChange>> GetProductionHistoryAsync(string modelId, int limit = 100, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return (await c.QueryAsync<ProductionAliasChange>(Cmd(ModelRegistrySql.ListProductionHistory, new { ModelId = modelId, Limit = limit }, ct: cancellationToken)).ConfigureAwait(false)).ToList();
    }

    private sealed class VersionRow
    {
        public string ModelId { get; set; } = "";
        public int Version { get; set; }
        public string ArtifactUri { get; set; } = "";
        public string Sha256 { get; set; } = "";
        public string Architecture { get; set; } = "";
        public string InputShape { get; set; } = "[]";
        public string Classes { get; set; } = "[]";
        public long ParamsTotal { get; set; }
        public DateTimeOffset CreatedAt { get; set; }
        public string CreatedBy { get; set; } = "";
        public string? Metadata { get; set; }

        public ModelVersionRecord ToRecord() => new()
        {
            ModelId = ModelId,
            Version = Version,
            ArtifactUri = ArtifactUri,
            Sha256 = Sha256.Trim(),
            Architecture = Architecture,
            InputShape = JsonSerializer.Deserialize<int[]>(InputShape) ?? [],
            Classes = JsonSerializer.Deserialize<string[]>(Classes) ?? [],
            ParamsTotal = ParamsTotal,
            CreatedAt = CreatedAt,
            CreatedBy = CreatedBy,
            MetadataJson = Metadata,
        };
    }
}
