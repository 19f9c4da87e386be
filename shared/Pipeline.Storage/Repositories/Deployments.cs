using Dapper;
using Pipeline.Storage.Data;
using Pipeline.Storage.Sql;

namespace Pipeline.Storage.Repositories;

/// <summary>Deployment kind (persisted by name).</summary>
public enum DeploymentKind
{
    /// <summary>A new version was deployed.</summary>
    Deploy = 0,

    /// <summary>Production was rolled back to an earlier version.</summary>
    Rollback = 1,
}

/// <summary>One deployment or rollback.</summary>
public sealed record DeploymentRecord
{
    /// <summary>Row id (assigned by the database).</summary>
    public long Id { get; init; }

    /// <summary>Model id.</summary>
    public required string ModelId { get; init; }

    /// <summary>Version now in production.</summary>
    public int Version { get; init; }

    /// <summary>Version before.</summary>
    public int? PreviousVersion { get; init; }

    /// <summary>Deploy or rollback.</summary>
    public DeploymentKind Kind { get; init; }

    /// <summary>Who.</summary>
    public required string DeployedBy { get; init; }

    /// <summary>Why.</summary>
    public string? Reason { get; init; }

    /// <summary>Run that produced it (null for manual rollbacks).</summary>
    public Guid? RunId { get; init; }

    /// <summary>When (set by the repository when default).</summary>
    public DateTimeOffset DeployedAt { get; init; }
}

/// <summary>Deployment log.</summary>
public interface IDeploymentRepository
{
    /// <summary>Appends an entry; returns its id.</summary>
    Task<long> AddAsync(DeploymentRecord deployment, CancellationToken cancellationToken = default);

    /// <summary>A model's deployments, newest first.</summary>
    Task<IReadOnlyList<DeploymentRecord>> ListByModelAsync(string modelId, int limit = 50, CancellationToken cancellationToken = default);

    /// <summary>The model's most recent deployment.</summary>
    Task<DeploymentRecord?> GetLatestAsync(string modelId, CancellationToken cancellationToken = default);
}

[SqlQueries]
internal static class DeploymentSql
{
    public static readonly SqlQuery Insert = new(
        "deployments.insert",
        "INSERT INTO dbo.deployments (model_id, version, previous_version, kind, deployed_by, reason, run_id, deployed_at) OUTPUT INSERTED.id VALUES (@ModelId, @Version, @PreviousVersion, @Kind, @DeployedBy, @Reason, @RunId, @DeployedAt);",
        "INSERT INTO deployments (model_id, version, previous_version, kind, deployed_by, reason, run_id, deployed_at) VALUES (@ModelId, @Version, @PreviousVersion, @Kind, @DeployedBy, @Reason, @RunId, @DeployedAt) RETURNING id;");

    private const string Columns =
        "id AS Id, model_id AS ModelId, version AS Version, previous_version AS PreviousVersion, kind AS Kind, deployed_by AS DeployedBy, reason AS Reason, run_id AS RunId, deployed_at AS DeployedAt";

    public static readonly SqlQuery ListByModel = new(
        "deployments.list_by_model",
        $"SELECT TOP (@Limit) {Columns} FROM dbo.deployments WHERE model_id = @ModelId ORDER BY id DESC;",
        $"SELECT {Columns} FROM deployments WHERE model_id = @ModelId ORDER BY id DESC LIMIT @Limit;");
}

/// <summary>Dapper implementation of <see cref="IDeploymentRepository"/>.</summary>
public sealed class DeploymentRepository : RepositoryBase, IDeploymentRepository
{
    /// <summary>Creates the repository.</summary>
    public DeploymentRepository(IDbConnectionFactory factory, TimeProvider? time = null)
        : base(factory, time)
    {
    }

    /// <inheritdoc />
    public async Task<long> AddAsync(DeploymentRecord deployment, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(deployment);
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await c.ExecuteScalarAsync<long>(Cmd(DeploymentSql.Insert, new
        {
            deployment.ModelId,
            deployment.Version,
            deployment.PreviousVersion,
            Kind = deployment.Kind.ToString(),
            deployment.DeployedBy,
            deployment.Reason,
            deployment.RunId,
            DeployedAt = deployment.DeployedAt == default ? Now : deployment.DeployedAt,
        }, ct: cancellationToken)).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<DeploymentRecord>> ListByModelAsync(string modelId, int limit = 50, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return (await c.QueryAsync<DeploymentRecord>(Cmd(DeploymentSql.ListByModel, new { ModelId = modelId, Limit = limit }, ct: cancellationToken)).ConfigureAwait(false)).ToList();
    }

    /// <inheritdoc />
    public async Task<DeploymentRecord?> GetLatestAsync(string modelId, CancellationToken cancellationToken = default) =>
        (await ListByModelAsync(modelId, 1, cancellationToken).ConfigureAwait(false)).FirstOrDefault();
}
