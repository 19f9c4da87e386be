using System.Data.Common;
using Microsoft.Data.SqlClient;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;

namespace Pipeline.Storage.Data;

/// <summary>
/// Default <see cref="IDbConnectionFactory"/>. For SQLite it makes sure the database directory
/// exists, switches the file to WAL once, and sets <c>foreign_keys</c> and <c>busy_timeout</c>
/// on every connection so several services in one process do not hit "database is locked".
/// </summary>
public sealed class DbConnectionFactory : IDbConnectionFactory
{
    private readonly string _connectionString;
    private readonly int _busyTimeoutMs;
    private int _walEnabled;

    /// <summary>Creates a factory from options.</summary>
    public DbConnectionFactory(IOptions<StorageOptions> options)
        : this(options?.Value ?? throw new ArgumentNullException(nameof(options)))
    {
    }

    /// <summary>Creates a factory from an options instance.</summary>
    public DbConnectionFactory(StorageOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        DapperTypeHandlers.EnsureRegistered();
        Provider = options.Provider;
        _busyTimeoutMs = Math.Max(0, options.SqliteBusyTimeoutMs);
        if (Provider == StorageProvider.Sqlite)
        {
            var builder = new SqliteConnectionStringBuilder(options.EffectiveConnectionString)
            {
                ForeignKeys = true,
                Pooling = true,
            };
            if (builder.DefaultTimeout < _busyTimeoutMs / 1000)
            {
                builder.DefaultTimeout = Math.Max(1, _busyTimeoutMs / 1000);
            }

            EnsureSqliteDirectory(builder.DataSource);
            _connectionString = builder.ToString();
            IsInMemory = IsMemoryDataSource(builder);
        }
        else
        {
            _connectionString = options.EffectiveConnectionString;
        }
    }

    /// <inheritdoc />
    public StorageProvider Provider { get; }

    /// <inheritdoc />
    public SqlDialect Dialect => Provider == StorageProvider.SqlServer ? SqlDialect.SqlServer : SqlDialect.Sqlite;

    /// <summary>True when the SQLite database lives in memory (WAL does not apply).</summary>
    public bool IsInMemory { get; }

    /// <inheritdoc />
    public async Task<DbConnection> OpenAsync(CancellationToken cancellationToken = default)
    {
        if (Provider == StorageProvider.SqlServer)
        {
            var sql = new SqlConnection(_connectionString);
            try
            {
                await sql.OpenAsync(cancellationToken).ConfigureAwait(false);
                return sql;
            }
            catch
            {
                await sql.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }

        var connection = new SqliteConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using (var pragma = connection.CreateCommand())
            {
                pragma.CommandText = $"PRAGMA busy_timeout = {_busyTimeoutMs.ToString(System.Globalization.CultureInfo.InvariantCulture)}; PRAGMA foreign_keys = ON;";
                await pragma.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            if (!IsInMemory && Volatile.Read(ref _walEnabled) == 0)
            {
                await using var wal = connection.CreateCommand();
                // journal_mode is persistent in the file; synchronous=NORMAL is safe with WAL.
                wal.CommandText = "PRAGMA journal_mode = WAL;";
                await wal.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
                Volatile.Write(ref _walEnabled, 1);
            }

            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static bool IsMemoryDataSource(SqliteConnectionStringBuilder builder) =>
        builder.Mode == SqliteOpenMode.Memory
        || string.IsNullOrEmpty(builder.DataSource)
        || string.Equals(builder.DataSource, ":memory:", StringComparison.OrdinalIgnoreCase);

    private static void EnsureSqliteDirectory(string dataSource)
    {
        if (string.IsNullOrWhiteSpace(dataSource)
            || string.Equals(dataSource, ":memory:", StringComparison.OrdinalIgnoreCase)
            || dataSource.StartsWith("file:", StringComparison.OrdinalIgnoreCase))
        {
            return;
        }

        var directory = Path.GetDirectoryName(Path.GetFullPath(dataSource));
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }
    }
}
