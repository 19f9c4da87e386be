using Dapper;
using Pipeline.Storage.Data;
using Pipeline.Storage.Sql;

namespace Pipeline.Storage.Repositories;

/// <summary>The sensitivity mask produced for a run.</summary>
public sealed record SensitivityMaskRecord
{
    /// <summary>Run id.</summary>
    public Guid RunId { get; init; }

    /// <summary>Artifact URI of the mask.</summary>
    public required string MaskUri { get; init; }

    /// <summary>SHA-256 (hex) of the mask.</summary>
    public required string Sha256 { get; init; }

    /// <summary>Fraction of all parameters selected.</summary>
    public double SelectedFraction { get; init; }

    /// <summary>Per-layer coverage JSON.</summary>
    public string? CoverageJson { get; init; }

    /// <summary>Adaptation set the scores were computed on.</summary>
    public string? AdaptationSetId { get; init; }

    /// <summary>When stored (set by the repository when default).</summary>
    public DateTimeOffset CreatedAt { get; init; }
}

/// <summary>Sensitivity masks, one per run.</summary>
public interface ISensitivityMaskRepository
{
    /// <summary>Inserts or replaces the run's mask (idempotent on redelivery).</summary>
    Task UpsertAsync(SensitivityMaskRecord mask, CancellationToken cancellationToken = default);

    /// <summary>Gets the run's mask.</summary>
    Task<SensitivityMaskRecord?> GetAsync(Guid runId, CancellationToken cancellationToken = default);
}

[SqlQueries]
internal static class SensitivityMaskSql
{
    public static readonly SqlQuery Upsert = new(
        "sensitivity_masks.upsert",
        """
        UPDATE dbo.sensitivity_masks WITH (UPDLOCK, SERIALIZABLE)
        SET mask_uri = @MaskUri, sha256 = @Sha256, selected_fraction = @SelectedFraction, coverage = @CoverageJson, adaptation_set_id = @AdaptationSetId, created_at = @CreatedAt
        WHERE run_id = @RunId;
        IF @@ROWCOUNT = 0
            INSERT INTO dbo.sensitivity_masks (run_id, mask_uri, sha256, selected_fraction, coverage, adaptation_set_id, created_at)
            VALUES (@RunId, @MaskUri, @Sha256, @SelectedFraction, @CoverageJson, @AdaptationSetId, @CreatedAt);
        """,
        """
        INSERT INTO sensitivity_masks (run_id, mask_uri, sha256, selected_fraction, coverage, adaptation_set_id, created_at)
        VALUES (@RunId, @MaskUri, @Sha256, @SelectedFraction, @CoverageJson, @AdaptationSetId, @CreatedAt)
        ON CONFLICT (run_id) DO UPDATE SET mask_uri = excluded.mask_uri, sha256 = excluded.sha256, selected_fraction = excluded.selected_fraction,
            coverage = excluded.coverage, adaptation_set_id = excluded.adaptation_set_id, created_at = excluded.created_at;
        """);

    private const string Columns =
        "run_id AS RunId, mask_uri AS MaskUri, sha256 AS Sha256, selected_fraction AS SelectedFraction, coverage AS CoverageJson, adaptation_set_id AS AdaptationSetId, created_at AS CreatedAt";

    public static readonly SqlQuery Get = new(
        "sensitivity_masks.get",
        $"SELECT {Columns} FROM dbo.sensitivity_masks WHERE run_id = @RunId;",
        $"SELECT {Columns} FROM sensitivity_masks WHERE run_id = @RunId;");
}

/// <summary>Dapper implementation of <see cref="ISensitivityMaskRepository"/>.</summary>
public sealed class SensitivityMaskRepository : RepositoryBase, ISensitivityMaskRepository
{
    /// <summary>Creates the repository.</summary>
    public SensitivityMaskRepository(IDbConnectionFactory factory, TimeProvider? time = null)
        : base(factory, time)
    {
    }

    /// <inheritdoc />
    public async Task UpsertAsync(SensitivityMaskRecord mask, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(mask);
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await c.ExecuteAsync(Cmd(SensitivityMaskSql.Upsert, new
        {
            mask.RunId,
            mask.MaskUri,
            mask.Sha256,
            mask.SelectedFraction,
            mask.CoverageJson,
            mask.AdaptationSetId,
            CreatedAt = mask.CreatedAt == default ? Now : mask.CreatedAt,
        }, ct: cancellationToken)).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<SensitivityMaskRecord?> GetAsync(Guid runId, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await c.QuerySingleOrDefaultAsync<SensitivityMaskRecord>(Cmd(SensitivityMaskSql.Get, new { RunId = runId }, ct: cancellationToken)).ConfigureAwait(false);
    }
}
