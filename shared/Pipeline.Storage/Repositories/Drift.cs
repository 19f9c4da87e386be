using Dapper;
using Pipeline.Storage.Data;
using Pipeline.Storage.Sql;

namespace Pipeline.Storage.Repositories;

/// <summary>The reference profile (training-time feature statistics) of a model version.</summary>
public sealed record DriftReferenceProfile
{
    /// <summary>Model id.</summary>
    public required string ModelId { get; init; }

    /// <summary>Model version.</summary>
    public int Version { get; init; }

    /// <summary>Artifact URI of the profile.</summary>
    public required string ProfileUri { get; init; }

    /// <summary>SHA-256 (hex) of the profile artifact.</summary>
    public required string Sha256 { get; init; }

    /// <summary>When stored (set by the repository when default).</summary>
    public DateTimeOffset CreatedAt { get; init; }
}

/// <summary>A drift report for one window of production data.</summary>
public sealed record DriftReport
{
    /// <summary>Report id.</summary>
    public Guid Id { get; init; }

    /// <summary>Model id.</summary>
    public required string ModelId { get; init; }

    /// <summary>Model version that served the window.</summary>
    public int ModelVersion { get; init; }

    /// <summary>Window id.</summary>
    public required string WindowId { get; init; }

    /// <summary>Window start.</summary>
    public DateTimeOffset WindowStart { get; init; }

    /// <summary>Window end.</summary>
    public DateTimeOffset WindowEnd { get; init; }

    /// <summary>Rows in the window.</summary>
    public int RowCount { get; init; }

    /// <summary>Dataset-level drift decision.</summary>
    public bool DatasetDrift { get; init; }

    /// <summary>Share of drifted features.</summary>
    public double ShareDrifted { get; init; }

    /// <summary>Severity (none, low, medium, high).</summary>
    public required string Severity { get; init; }

    /// <summary>The full report JSON (drift compare format).</summary>
    public string? ReportJson { get; init; }

    /// <summary>When stored (set by the repository when default).</summary>
    public DateTimeOffset CreatedAt { get; init; }
}

/// <summary>Drift reference profiles and drift reports.</summary>
public interface IDriftRepository
{
    /// <summary>Inserts or replaces the reference profile of a model version.</summary>
    Task UpsertReferenceProfileAsync(DriftReferenceProfile profile, CancellationToken cancellationToken = default);

    /// <summary>Gets the reference profile of a model version.</summary>
    Task<DriftReferenceProfile?> GetReferenceProfileAsync(string modelId, int version, CancellationToken cancellationToken = default);

    /// <summary>Stores a report. False when a report with that id exists (redelivery).</summary>
    Task<bool> AddReportAsync(DriftReport report, CancellationToken cancellationToken = default);

    /// <summary>Gets a report.</summary>
    Task<DriftReport?> GetReportAsync(Guid id, CancellationToken cancellationToken = default);

    /// <summary>A model's reports, newest first.</summary>
    Task<IReadOnlyList<DriftReport>> ListReportsAsync(string modelId, int limit = 50, CancellationToken cancellationToken = default);
}

[SqlQueries]
internal static class DriftSql
{
    public static readonly SqlQuery UpsertProfile = new(
        "drift_reference_profiles.upsert",
        """
        UPDATE dbo.drift_reference_profiles WITH (UPDLOCK, SERIALIZABLE) SET profile_uri = @ProfileUri, sha256 = @Sha256, created_at = @CreatedAt
        WHERE model_id = @ModelId AND version = @Version;
        IF @@ROWCOUNT = 0
            INSERT INTO dbo.drift_reference_profiles (model_id, version, profile_uri, sha256, created_at) VALUES (@ModelId, @Version, @ProfileUri, @Sha256, @CreatedAt);
        """,
        """
        INSERT INTO drift_reference_profiles (model_id, version, profile_uri, sha256, created_at) VALUES (@ModelId, @Version, @ProfileUri, @Sha256, @CreatedAt)
        ON CONFLICT (model_id, version) DO UPDATE SET profile_uri = excluded.profile_uri, sha256 = excluded.sha256, created_at = excluded.created_at;
        """);

    private const string ProfileColumns = "model_id AS ModelId, version AS Version, profile_uri AS ProfileUri, sha256 AS Sha256, created_at AS CreatedAt";

    public static readonly SqlQuery GetProfile = new(
        "drift_reference_profiles.get",
        $"SELECT {ProfileColumns} FROM dbo.drift_reference_profiles WHERE model_id = @ModelId AND version = @Version;",
        $"SELECT {ProfileColumns} FROM drift_reference_profiles WHERE model_id = @ModelId AND version = @Version;");

    public static readonly SqlQuery InsertReport = new(
        "drift_reports.insert",
        """
        INSERT INTO dbo.drift_reports (report_id, model_id, model_version, window_id, window_start, window_end, row_count, dataset_drift, share_drifted, severity, report, created_at)
        VALUES (@Id, @ModelId, @ModelVersion, @WindowId, @WindowStart, @WindowEnd, @RowCount, @DatasetDrift, @ShareDrifted, @Severity, @ReportJson, @CreatedAt);
        """,
        """
        INSERT INTO drift_reports (report_id, model_id, model_version, window_id, window_start, window_end, row_count, dataset_drift, share_drifted, severity, report, created_at)
        VALUES (@Id, @ModelId, @ModelVersion, @WindowId, @WindowStart, @WindowEnd, @RowCount, @DatasetDrift, @ShareDrifted, @Severity, @ReportJson, @CreatedAt);
        """);

    private const string ReportColumns =
        "report_id AS Id, model_id AS ModelId, model_version AS ModelVersion, window_id AS WindowId, window_start AS WindowStart, window_end AS WindowEnd, " +
        "row_count AS [RowCount], dataset_drift AS DatasetDrift, share_drifted AS ShareDrifted, severity AS Severity, report AS ReportJson, created_at AS CreatedAt";

    private const string ReportColumnsSqlite =
        "report_id AS Id, model_id AS ModelId, model_version AS ModelVersion, window_id AS WindowId, window_start AS WindowStart, window_end AS WindowEnd, " +
        "row_count AS \"RowCount\", dataset_drift AS DatasetDrift, share_drifted AS ShareDrifted, severity AS Severity, report AS ReportJson, created_at AS CreatedAt";

    public static readonly SqlQuery GetReport = new(
        "drift_reports.get",
        $"SELECT {ReportColumns} FROM dbo.drift_reports WHERE report_id = @Id;",
        $"SELECT {ReportColumnsSqlite} FROM drift_reports WHERE report_id = @Id;");

    public static readonly SqlQuery ListReports = new(
        "drift_reports.list",
        $"SELECT TOP (@Limit) {ReportColumns} FROM dbo.drift_reports WHERE model_id = @ModelId ORDER BY created_at DESC;",
        $"SELECT {ReportColumnsSqlite} FROM drift_reports WHERE model_id = @ModelId ORDER BY created_at DESC LIMIT @Limit;");
}

/// <summary>Dapper implementation of <see cref="IDriftRepository"/>.</summary>
public sealed class DriftRepository : RepositoryBase, IDriftRepository
{
    /// <summary>Creates the repository.</summary>
    public DriftRepository(IDbConnectionFactory factory, TimeProvider? time = null)
        : base(factory, time)
    {
    }

    /// <inheritdoc />
    public async Task UpsertReferenceProfileAsync(DriftReferenceProfile profile, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(profile);
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await c.ExecuteAsync(Cmd(DriftSql.UpsertProfile, new
        {
            profile.ModelId,
            profile.Version,
            profile.ProfileUri,
            profile.Sha256,
            CreatedAt = profile.CreatedAt == default ? Now : profile.CreatedAt,
        }, ct: cancellationToken)).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<DriftReferenceProfile?> GetReferenceProfileAsync(string modelId, int version, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await c.QuerySingleOrDefaultAsync<DriftReferenceProfile>(Cmd(DriftSql.GetProfile, new { ModelId = modelId, Version = version }, ct: cancellationToken)).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<bool> AddReportAsync(DriftReport report, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(report);
        try
        {
            await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
            await c.ExecuteAsync(Cmd(DriftSql.InsertReport, new
            {
                report.Id,
                report.ModelId,
                report.ModelVersion,
                report.WindowId,
                report.WindowStart,
                report.WindowEnd,
                report.RowCount,
                report.DatasetDrift,
                report.ShareDrifted,
                report.Severity,
                report.ReportJson,
                CreatedAt = report.CreatedAt == default ? Now : report.CreatedAt,
            }, ct: cancellationToken)).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (IsUniqueViolation(ex))
        {
            return false;
        }
    }

    /// <inheritdoc />
    public async Task<DriftReport?> GetReportAsync(Guid id, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await c.QuerySingleOrDefaultAsync<DriftReport>(Cmd(DriftSql.GetReport, new { Id = id }, ct: cancellationToken)).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<DriftReport>> ListReportsAsync(string modelId, int limit = 50, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return (await c.QueryAsync<DriftReport>(Cmd(DriftSql.ListReports, new { ModelId = modelId, Limit = limit }, ct: cancellationToken)).ConfigureAwait(false)).ToList();
    }
}
