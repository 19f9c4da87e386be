using Dapper;
using Pipeline.Storage.Data;
using Pipeline.Storage.Sql;

namespace Pipeline.Storage.Repositories;

/// <summary>The adaptation pause flag of a model.</summary>
public sealed record AdaptationPause
{
    /// <summary>Model id.</summary>
    public required string ModelId { get; init; }

    /// <summary>True while adaptation is paused.</summary>
    public bool Paused { get; init; }

    /// <summary>Why.</summary>
    public string? Reason { get; init; }

    /// <summary>Who set it.</summary>
    public required string SetBy { get; init; }

    /// <summary>When.</summary>
    public DateTimeOffset SetAt { get; init; }
}

/// <summary>Per-model adaptation pause flags (PauseAdaptation / ResumeAdaptation).</summary>
public interface IAdaptationPauseRepository
{
    /// <summary>Sets the flag (creating the model row when missing).</summary>
    Task SetAsync(string modelId, bool paused, string setBy, string? reason = null, CancellationToken cancellationToken = default);

    /// <summary>Gets the flag row, or null when never set.</summary>
    Task<AdaptationPause?> GetAsync(string modelId, CancellationToken cancellationToken = default);

    /// <summary>True when paused.</summary>
    Task<bool> IsPausedAsync(string modelId, CancellationToken cancellationToken = default);
}

[SqlQueries]
internal static class AdaptationPauseSql
{
    public static readonly SqlQuery Upsert = new(
        "adaptation_pauses.upsert",
        """
        UPDATE dbo.adaptation_pauses WITH (UPDLOCK, SERIALIZABLE) SET paused = @Paused, reason = @Reason, set_by = @SetBy, set_at = @Now WHERE model_id = @ModelId;
        IF @@ROWCOUNT = 0
            INSERT INTO dbo.adaptation_pauses (model_id, paused, reason, set_by, set_at) VALUES (@ModelId, @Paused, @Reason, @SetBy, @Now);
        """,
        """
        INSERT INTO adaptation_pauses (model_id, paused, reason, set_by, set_at) VALUES (@ModelId, @Paused, @Reason, @SetBy, @Now)
        ON CONFLICT (model_id) DO UPDATE SET paused = excluded.paused, reason = excluded.reason, set_by = excluded.set_by, set_at = excluded.set_at;
        """);

    public static readonly SqlQuery Get = new(
        "adaptation_pauses.get",
        "SELECT model_id AS ModelId, paused AS Paused, reason AS Reason, set_by AS SetBy, set_at AS SetAt FROM dbo.adaptation_pauses WHERE model_id = @ModelId;",
        "SELECT model_id AS ModelId, paused AS Paused, reason AS Reason, set_by AS SetBy, set_at AS SetAt FROM adaptation_pauses WHERE model_id = @ModelId;");
}

/// <summary>Dapper implementation of <see cref="IAdaptationPauseRepository"/>.</summary>
public sealed class AdaptationPauseRepository : RepositoryBase, IAdaptationPauseRepository
{
    /// <summary>Creates the repository.</summary>
    public AdaptationPauseRepository(IDbConnectionFactory factory, TimeProvider? time = null)
        : base(factory, time)
    {
    }

    /// <inheritdoc />
    public async Task SetAsync(string modelId, bool paused, string setBy, string? reason = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(modelId);
        ArgumentException.ThrowIfNullOrWhiteSpace(setBy);
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await BeginWriteAsync(c, cancellationToken).ConfigureAwait(false);
        await c.ExecuteAsync(Cmd(ModelRegistrySql.InsertModelIfMissing, new { ModelId = modelId, DisplayName = (string?)null, Now }, tx, cancellationToken)).ConfigureAwait(false);
        await c.ExecuteAsync(Cmd(AdaptationPauseSql.Upsert, new { ModelId = modelId, Paused = paused, Reason = reason, SetBy = setBy, Now }, tx, cancellationToken)).ConfigureAwait(false);
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<AdaptationPause?> GetAsync(string modelId, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await c.QuerySingleOrDefaultAsync<AdaptationPause>(Cmd(AdaptationPauseSql.Get, new { ModelId = modelId }, ct: cancellationToken)).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<bool> IsPausedAsync(string modelId, CancellationToken cancellationToken = default) =>
        (await GetAsync(modelId, cancellationToken).ConfigureAwait(false))?.Paused ?? false;
}
