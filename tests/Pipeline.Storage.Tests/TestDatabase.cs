using Microsoft.Data.Sqlite;
using Pipeline.Storage.Data;
using Pipeline.Storage.Migrations;

namespace Pipeline.Storage.Tests;

/// <summary>A fresh SQLite database file (and artifact root) in a temp directory.</summary>
internal sealed class TestDatabase : IDisposable
{
    private TestDatabase(string directory)
    {
        Directory = directory;
        Options = new StorageOptions
        {
            Provider = StorageProvider.Sqlite,
            ConnectionString = $"Data Source={Path.Combine(directory, "db", "pipeline.db")}",
            ArtifactRoot = Path.Combine(directory, "artifacts"),
        };
        Factory = new DbConnectionFactory(Options);
    }

    public string Directory { get; }

    public StorageOptions Options { get; }

    public DbConnectionFactory Factory { get; }

    public static string NewTempDirectory()
    {
        var dir = Path.Combine(Path.GetTempPath(), "pipeline-storage-tests", Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>Creates the database without migrating it.</summary>
    public static TestDatabase CreateEmpty() => new(NewTempDirectory());

    /// <summary>Creates and migrates the database.</summary>
    public static async Task<TestDatabase> CreateAsync()
    {
        var db = CreateEmpty();
        await new MigrationRunner(db.Factory).MigrateAsync();
        return db;
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
