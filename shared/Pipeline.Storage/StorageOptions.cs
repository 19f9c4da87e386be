namespace Pipeline.Storage;

/// <summary>Which database engine holds the pipeline state.</summary>
public enum StorageProvider
{
    /// <summary>Embedded SQLite file (default; single host or one process).</summary>
    Sqlite = 0,

    /// <summary>SQL Server (docker compose service <c>sqlserver</c>).</summary>
    SqlServer = 1,
}

/// <summary>Options bound from the configuration section <c>Storage</c>.</summary>
public sealed class StorageOptions
{
    /// <summary>The configuration section name.</summary>
    public const string SectionName = "Storage";

    /// <summary>Default SQLite connection string (relative to the working directory).</summary>
    public const string DefaultSqliteConnectionString = "Data Source=.pipeline/pipeline.db";

    /// <summary>Default artifact root (relative to the working directory).</summary>
    public const string DefaultArtifactRoot = ".pipeline/artifacts";

    /// <summary>Database engine. Default <see cref="StorageProvider.Sqlite"/>.</summary>
    public StorageProvider Provider { get; set; } = StorageProvider.Sqlite;

    /// <summary>
    /// ADO.NET connection string. Optional for SQLite (defaults to
    /// <see cref="DefaultSqliteConnectionString"/>), required for SQL Server.
    /// </summary>
    public string? ConnectionString { get; set; }

    /// <summary>Directory that holds artifacts (a shared volume under compose).</summary>
    public string ArtifactRoot { get; set; } = DefaultArtifactRoot;

    /// <summary>Apply pending migrations when the host starts. Default true.</summary>
    public bool MigrateOnStartup { get; set; } = true;

    /// <summary>SQLite busy timeout in milliseconds (how long a writer waits for the lock).</summary>
    public int SqliteBusyTimeoutMs { get; set; } = 15_000;

    /// <summary>SQL Server: how long a starter waits for the migration application lock.</summary>
    public int MigrationLockTimeoutMs { get; set; } = 120_000;

    /// <summary>The connection string actually used (applies the SQLite default).</summary>
    public string EffectiveConnectionString =>
        !string.IsNullOrWhiteSpace(ConnectionString)
            ? ConnectionString
            : Provider == StorageProvider.Sqlite
                ? DefaultSqliteConnectionString
                : throw new InvalidOperationException("Storage:ConnectionString is required when Storage:Provider is SqlServer.");
}
