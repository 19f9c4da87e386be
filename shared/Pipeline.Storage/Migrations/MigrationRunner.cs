using System.Data;
using System.Data.Common;
using Dapper;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Pipeline.Storage.Data;
using Pipeline.Storage.Sql;

namespace Pipeline.Storage.Migrations;

/// <summary>A row of <c>schema_versions</c>.</summary>
public sealed record AppliedMigration
{
    /// <summary>Migration version.</summary>
    public int Version { get; init; }

    /// <summary>Script name, e.g. 0001_initial.</summary>
    public string Name { get; init; } = "";

    /// <summary>SHA-256 of the script when it was applied.</summary>
    public string Checksum { get; init; } = "";

    /// <summary>When it was applied.</summary>
    public DateTimeOffset AppliedAt { get; init; }
}

/// <summary>Outcome of <see cref="MigrationRunner.MigrateAsync"/>.</summary>
/// <param name="Applied">Scripts applied by this call, in order.</param>
/// <param name="AlreadyApplied">How many scripts were already recorded.</param>
public sealed record MigrationResult(IReadOnlyList<MigrationScript> Applied, int AlreadyApplied);

/// <summary>
/// Applies the embedded migrations of the configured dialect, once each, in version order, each
/// in its own transaction, recording them in <c>schema_versions</c>. Safe to call from several
/// starters at once: SQL Server takes an exclusive <c>sp_getapplock</c>; SQLite applies each
/// script inside a <c>BEGIN IMMEDIATE</c> transaction and re-reads the applied set under it.
/// </summary>
public sealed class MigrationRunner
{
    private readonly IDbConnectionFactory _factory;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly int _lockTimeoutMs;

    /// <summary>Creates a runner.</summary>
    public MigrationRunner(
        IDbConnectionFactory factory,
        ILogger<MigrationRunner>? logger = null,
        IOptions<StorageOptions>? options = null,
        TimeProvider? time = null)
    {
        _factory = factory ?? throw new ArgumentNullException(nameof(factory));
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _time = time ?? TimeProvider.System;
        _lockTimeoutMs = options?.Value.MigrationLockTimeoutMs ?? 120_000;
    }

    /// <summary>The scripts this runner applies.</summary>
    public IReadOnlyList<MigrationScript> Scripts => MigrationScripts.For(_factory.Dialect);

    /// <summary>Applies pending migrations. A second call applies nothing.</summary>
    public async Task<MigrationResult> MigrateAsync(CancellationToken cancellationToken = default)
    {
        var scripts = Scripts;
        await using var connection = await _factory.OpenAsync(cancellationToken).ConfigureAwait(false);
        var result = _factory.Dialect == SqlDialect.SqlServer
            ? await MigrateSqlServerAsync(connection, scripts, cancellationToken).ConfigureAwait(false)
            : await MigrateSqliteAsync((SqliteConnection)connection, scripts, cancellationToken).ConfigureAwait(false);
        if (result.Applied.Count > 0)
        {
            _logger.LogInformation("Applied {Count} {Dialect} migration(s): {Names}", result.Applied.Count, _factory.Dialect, string.Join(", ", result.Applied.Select(s => s.Name)));
        }
        else
        {
            _logger.LogDebug("Database schema is up to date ({Count} migration(s) recorded)", result.AlreadyApplied);
        }

        return result;
    }

    /// <summary>Reads <c>schema_versions</c> (empty when the table does not exist yet).</summary>
    public async Task<IReadOnlyList<AppliedMigration>> GetAppliedAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await _factory.OpenAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync(Cmd(MigrationSql.EnsureVersionsTable, null, null, cancellationToken)).ConfigureAwait(false);
        var rows = await connection.QueryAsync<AppliedMigration>(Cmd(MigrationSql.SelectApplied, null, null, cancellationToken)).ConfigureAwait(false);
        return rows.ToList();
    }

    private async Task<MigrationResult> MigrateSqlServerAsync(DbConnection connection, IReadOnlyList<MigrationScript> scripts, CancellationToken ct)
    {
        var lockResult = await connection.ExecuteScalarAsync<int>(
            Cmd(MigrationSql.AcquireLock, new { TimeoutMs = _lockTimeoutMs }, null, ct, commandTimeout: (_lockTimeoutMs / 1000) + 30)).ConfigureAwait(false);
        if (lockResult < 0)
        {
            throw new TimeoutException($"Could not take the migration lock (sp_getapplock returned {lockResult}).");
        }

        try
        {
            await connection.ExecuteAsync(Cmd(MigrationSql.EnsureVersionsTable, null, null, ct)).ConfigureAwait(false);
            var applied = await ReadAppliedAsync(connection, null, ct).ConfigureAwait(false);
            var pending = Pending(scripts, applied);
            foreach (var script in pending)
            {
                await using var tx = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, ct).ConfigureAwait(false);
                foreach (var batch in script.Batches)
                {
                    await connection.ExecuteAsync(new CommandDefinition(batch, transaction: tx, commandTimeout: 600, cancellationToken: ct)).ConfigureAwait(false);
                }

                await RecordAsync(connection, tx, script, ct).ConfigureAwait(false);
                await tx.CommitAsync(ct).ConfigureAwait(false);
            }

            return new MigrationResult(pending, applied.Count);
        }
        finally
        {
            await connection.ExecuteAsync(Cmd(MigrationSql.ReleaseLock, null, null, CancellationToken.None)).ConfigureAwait(false);
        }
    }

    private async Task<MigrationResult> MigrateSqliteAsync(SqliteConnection connection, IReadOnlyList<MigrationScript> scripts, CancellationToken ct)
    {
        var applied = new List<MigrationScript>();
        int? alreadyApplied = null;
        while (true)
        {
            // BEGIN IMMEDIATE: takes the write lock now, so two starters cannot both see a script as pending.
            await using var tx = connection.BeginTransaction(IsolationLevel.Serializable, deferred: false);
            await connection.ExecuteAsync(Cmd(MigrationSql.EnsureVersionsTable, null, tx, ct)).ConfigureAwait(false);
            var recorded = await ReadAppliedAsync(connection, tx, ct).ConfigureAwait(false);
            alreadyApplied ??= recorded.Count;
            var next = Pending(scripts, recorded).FirstOrDefault();
            if (next is null)
            {
                await tx.CommitAsync(ct).ConfigureAwait(false);
                break;
            }

            await connection.ExecuteAsync(new CommandDefinition(next.Sql, transaction: tx, cancellationToken: ct)).ConfigureAwait(false);
            await RecordAsync(connection, tx, next, ct).ConfigureAwait(false);
            await tx.CommitAsync(ct).ConfigureAwait(false);
            applied.Add(next);
        }

        return new MigrationResult(applied, alreadyApplied ?? 0);
    }

    private List<MigrationScript> Pending(IReadOnlyList<MigrationScript> scripts, IReadOnlyList<AppliedMigration> applied)
    {
        var byVersion = applied.ToDictionary(a => a.Version);
        foreach (var script in scripts)
        {
            if (byVersion.TryGetValue(script.Version, out var row) && !string.Equals(row.Checksum, script.Checksum, StringComparison.OrdinalIgnoreCase))
            {
                _logger.LogWarning("Migration {Name} was changed after it was applied (checksum {Recorded} != {Current})", script.Name, row.Checksum, script.Checksum);
            }
        }

        return scripts.Where(s => !byVersion.ContainsKey(s.Version)).OrderBy(s => s.Version).ToList();
    }

    private async Task<IReadOnlyList<AppliedMigration>> ReadAppliedAsync(DbConnection connection, DbTransaction? tx, CancellationToken ct) =>
        (await connection.QueryAsync<AppliedMigration>(Cmd(MigrationSql.SelectApplied, null, tx, ct)).ConfigureAwait(false)).ToList();

    private Task RecordAsync(DbConnection connection, DbTransaction tx, MigrationScript script, CancellationToken ct) =>
        connection.ExecuteAsync(Cmd(
            MigrationSql.InsertVersion,
            new { script.Version, script.Name, script.Checksum, AppliedAt = _time.GetUtcNow() },
            tx,
            ct));

    private CommandDefinition Cmd(SqlQuery query, object? param, DbTransaction? tx, CancellationToken ct, int? commandTimeout = null) =>
        new(query.For(_factory.Dialect), param, tx, commandTimeout, cancellationToken: ct);
}
