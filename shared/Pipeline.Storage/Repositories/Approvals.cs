using Dapper;
using Pipeline.Storage.Data;
using Pipeline.Storage.Sql;

namespace Pipeline.Storage.Repositories;

/// <summary>Approval decision (persisted by name).</summary>
public enum ApprovalDecision
{
    /// <summary>Operator approved.</summary>
    Approve = 0,

    /// <summary>Operator rejected.</summary>
    Reject = 1,

    /// <summary>The approval request expired.</summary>
    Expired = 2,

    /// <summary>Approved automatically by the gate.</summary>
    Auto = 3,
}

/// <summary>How the decision was made (persisted by name).</summary>
public enum ApprovalSource
{
    /// <summary>By the gate's policy.</summary>
    Auto = 0,

    /// <summary>By an operator.</summary>
    Manual = 1,
}

/// <summary>One approval audit entry.</summary>
public sealed record ApprovalRecord
{
    /// <summary>Row id (assigned by the database).</summary>
    public long Id { get; init; }

    /// <summary>Run id.</summary>
    public Guid RunId { get; init; }

    /// <summary>Decision.</summary>
    public ApprovalDecision Decision { get; init; }

    /// <summary>Who decided (the RabbitMQ-validated user id, or the service).</summary>
    public required string DecidedBy { get; init; }

    /// <summary>Auto or manual.</summary>
    public ApprovalSource Mode { get; init; }

    /// <summary>Reason.</summary>
    public string? Reason { get; init; }

    /// <summary>When (set by the repository when default).</summary>
    public DateTimeOffset DecidedAt { get; init; }
}

/// <summary>Approval audit trail.</summary>
public interface IApprovalRepository
{
    /// <summary>Appends an entry; returns its id.</summary>
    Task<long> AddAsync(ApprovalRecord approval, CancellationToken cancellationToken = default);

    /// <summary>A run's entries, oldest first.</summary>
    Task<IReadOnlyList<ApprovalRecord>> ListByRunAsync(Guid runId, CancellationToken cancellationToken = default);
}

[SqlQueries]
internal static class ApprovalSql
{
    public static readonly SqlQuery Insert = new(
        "approvals.insert",
        "INSERT INTO dbo.approvals (run_id, decision, decided_by, mode, reason, decided_at) OUTPUT INSERTED.id VALUES (@RunId, @Decision, @DecidedBy, @Mode, @Reason, @DecidedAt);",
        "INSERT INTO approvals (run_id, decision, decided_by, mode, reason, decided_at) VALUES (@RunId, @Decision, @DecidedBy, @Mode, @Reason, @DecidedAt) RETURNING id;");

    private const string Columns = "id AS Id, run_id AS RunId, decision AS Decision, decided_by AS DecidedBy, mode AS Mode, reason AS Reason, decided_at AS DecidedAt";

    public static readonly SqlQuery ListByRun = new(
        "approvals.list_by_run",
        $"SELECT {Columns} FROM dbo.approvals WHERE run_id = @RunId ORDER BY id;",
        $"SELECT {Columns} FROM approvals WHERE run_id = @RunId ORDER BY id;");
}

/// <summary>Dapper implementation of <see cref="IApprovalRepository"/>.</summary>
public sealed class ApprovalRepository : RepositoryBase, IApprovalRepository
{
    /// <summary>Creates the repository.</summary>
    public ApprovalRepository(IDbConnectionFactory factory, TimeProvider? time = null)
        : base(factory, time)
    {
    }

    /// <inheritdoc />
    public async Task<long> AddAsync(ApprovalRecord approval, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(approval);
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await c.ExecuteScalarAsync<long>(Cmd(ApprovalSql.Insert, new
        {
            approval.RunId,
            Decision = approval.Decision.ToString(),
            approval.DecidedBy,
            Mode = approval.Mode.ToString(),
            approval.Reason,
            DecidedAt = approval.DecidedAt == default ? Now : approval.DecidedAt,
        }, ct: cancellationToken)).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<ApprovalRecord>> ListByRunAsync(Guid runId, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return (await c.QueryAsync<ApprovalRecord>(Cmd(ApprovalSql.ListByRun, new { RunId = runId }, ct: cancellationToken)).ConfigureAwait(false)).ToList();
    }
}
