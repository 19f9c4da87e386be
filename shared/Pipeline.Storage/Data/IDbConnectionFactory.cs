using System.Data.Common;

namespace Pipeline.Storage.Data;

/// <summary>Opens configured, ready-to-use connections to the pipeline database.</summary>
public interface IDbConnectionFactory
{
    /// <summary>The configured provider.</summary>
    StorageProvider Provider { get; }

    /// <summary>The SQL dialect of <see cref="Provider"/>.</summary>
    SqlDialect Dialect { get; }

    /// <summary>Opens a new connection (SQLite: foreign keys on, busy timeout set, WAL).</summary>
    Task<DbConnection> OpenAsync(CancellationToken cancellationToken = default);
}
