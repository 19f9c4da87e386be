using System.Data;
using System.Data.Common;
using Dapper;
using Microsoft.Data.SqlClient;
using Microsoft.Data.Sqlite;
using Pipeline.Storage.Data;
using Pipeline.Storage.Sql;

namespace Pipeline.Storage.Repositories;

/// <summary>Shared plumbing: one connection per call, dialect-specific SQL from the catalog.</summary>
public abstract class RepositoryBase
{
    /// <summary>Creates the base.</summary>
    protected RepositoryBase(IDbConnectionFactory factory, TimeProvider? time)
    {
        Factory = factory ?? throw new ArgumentNullException(nameof(factory));
        Time = time ?? TimeProvider.System;
        DapperTypeHandlers.EnsureRegistered();
    }

    /// <summary>The connection factory.</summary>
    protected IDbConnectionFactory Factory { get; }

    /// <summary>Clock for created/updated timestamps.</summary>
    protected TimeProvider Time { get; }

    /// <summary>Now, UTC.</summary>
    protected DateTimeOffset Now => Time.GetUtcNow();

    /// <summary>Builds a Dapper command for the configured dialect.</summary>
    protected CommandDefinition Cmd(SqlQuery query, object? param = null, DbTransaction? tx = null, CancellationToken ct = default) =>
        new(query.For(Factory.Dialect), param, tx, cancellationToken: ct);

    /// <summary>Opens a connection.</summary>
    protected Task<DbConnection> OpenAsync(CancellationToken ct) => Factory.OpenAsync(ct);

    /// <summary>
    /// Begins a write transaction. On SQLite this is <c>BEGIN IMMEDIATE</c> (takes the write lock at
    /// once, so read-then-write sequences are serialised); on SQL Server, READ COMMITTED (statements
    /// add UPDLOCK/HOLDLOCK hints where they read before writing).
    /// </summary>
    protected static async Task<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken ct) =>
        connection is SqliteConnection sqlite
            ? sqlite.BeginTransaction(IsolationLevel.Serializable, deferred: false)
            : await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, ct).ConfigureAwait(false);

    /// <summary>True when the exception is a unique/primary-key violation (optionally naming <paramref name="hint"/>).</summary>
    protected static bool IsUniqueViolation(Exception exception, string? hint = null)
    {
        var unique = exception switch
        {
            SqlException sql => sql.Number is 2601 or 2627,
            SqliteException sqlite => sqlite.SqliteErrorCode == 19 && sqlite.SqliteExtendedErrorCode is 2067 or 1555,
            _ => false,
        };
        return unique && (hint is null || exception.Message.Contains(hint, StringComparison.OrdinalIgnoreCase));
    }
}
