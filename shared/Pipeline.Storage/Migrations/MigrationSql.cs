using Pipeline.Storage.Sql;

namespace Pipeline.Storage.Migrations;

[SqlQueries]
internal static class MigrationSql
{
    public static readonly SqlQuery EnsureVersionsTable = new(
        "migrations.ensure_versions_table",
        """
        IF OBJECT_ID(N'dbo.schema_versions', N'U') IS NULL
            CREATE TABLE dbo.schema_versions (
                version    INT               NOT NULL CONSTRAINT pk_schema_versions PRIMARY KEY,
                name       NVARCHAR(200)     NOT NULL,
                checksum   CHAR(64)          NOT NULL,
                applied_at DATETIMEOFFSET(7) NOT NULL
            );
        """,
        """
        CREATE TABLE IF NOT EXISTS schema_versions (
            version    INTEGER NOT NULL PRIMARY KEY,
            name       TEXT    NOT NULL,
            checksum   TEXT    NOT NULL,
            applied_at TEXT    NOT NULL
        );
        """);

    public static readonly SqlQuery SelectApplied = new(
        "migrations.select_applied",
        "SELECT version AS Version, name AS Name, checksum AS Checksum, applied_at AS AppliedAt FROM dbo.schema_versions ORDER BY version;",
        "SELECT version AS Version, name AS Name, checksum AS Checksum, applied_at AS AppliedAt FROM schema_versions ORDER BY version;");

    public static readonly SqlQuery InsertVersion = new(
        "migrations.insert_version",
        "INSERT INTO dbo.schema_versions (version, name, checksum, applied_at) VALUES (@Version, @Name, @Checksum, @AppliedAt);",
        "INSERT INTO schema_versions (version, name, checksum, applied_at) VALUES (@Version, @Name, @Checksum, @AppliedAt);");

    // SQL Server: a session-owned application lock serialises concurrent starters.
    // SQLite: the runner's BEGIN IMMEDIATE transaction is the lock, so the statement is a no-op.
    public static readonly SqlQuery AcquireLock = new(
        "migrations.acquire_lock",
        """
        DECLARE @result INT;
        EXEC @result = sp_getapplock @Resource = N'pipeline.schema_migrations', @LockMode = N'Exclusive', @LockOwner = N'Session', @LockTimeout = @TimeoutMs;
        SELECT @result;
        """,
        "SELECT 0;");

    public static readonly SqlQuery ReleaseLock = new(
        "migrations.release_lock",
        "EXEC sp_releaseapplock @Resource = N'pipeline.schema_migrations', @LockOwner = N'Session';",
        "SELECT 0;");
}
