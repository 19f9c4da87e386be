using Dapper;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Pipeline.Storage.Artifacts;
using Pipeline.Storage.Data;
using Pipeline.Storage.Health;
using Pipeline.Storage.Migrations;
using Pipeline.Storage.Repositories;

namespace Pipeline.Storage.Tests;

public sealed class MigrationTests
{
    [Fact]
    public async Task Fresh_database_gets_every_migration_once_and_second_run_applies_nothing()
    {
        using var db = TestDatabase.CreateEmpty();
        var runner = new MigrationRunner(db.Factory);
        var scripts = runner.Scripts;
        Assert.NotEmpty(scripts);

        var first = await runner.MigrateAsync();
        Assert.Equal(scripts.Select(s => s.Version), first.Applied.Select(s => s.Version));
        Assert.Equal(0, first.AlreadyApplied);

        var second = await runner.MigrateAsync();
        Assert.Empty(second.Applied);
        Assert.Equal(scripts.Count, second.AlreadyApplied);

        var applied = await runner.GetAppliedAsync();
        Assert.Equal(scripts.Select(s => (s.Version, s.Name, s.Checksum)), applied.Select(a => (a.Version, a.Name, a.Checksum)));
        Assert.All(applied, a => Assert.True(a.AppliedAt > DateTimeOffset.UtcNow.AddMinutes(-5)));

        await using var c = await db.Factory.OpenAsync();
        var tables = (await c.QueryAsync<string>("SELECT name FROM sqlite_master WHERE type = 'table'")).ToHashSet();
        foreach (var table in new[] { "models", "model_versions", "production_aliases", "production_alias_history", "drift_reference_profiles", "drift_reports", "adaptation_runs", "adaptation_run_history", "sensitivity_masks", "evaluations", "approvals", "deployments", "observation_batches", "adaptation_pauses", "schema_versions" })
        {
            Assert.Contains(table, tables);
        }
    }

    [Fact]
    public async Task Concurrent_starters_apply_each_migration_exactly_once()
    {
        using var db = TestDatabase.CreateEmpty();
        var results = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => new MigrationRunner(new DbConnectionFactory(db.Options)).MigrateAsync())));
        var scripts = MigrationScripts.For(SqlDialect.Sqlite);
        Assert.Equal(scripts.Count, results.Sum(r => r.Applied.Count));
        await using var c = await db.Factory.OpenAsync();
        Assert.Equal(scripts.Count, await c.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM schema_versions"));
    }

    [Fact]
    public async Task Sqlite_connections_use_wal_foreign_keys_and_busy_timeout()
    {
        using var db = await TestDatabase.CreateAsync();
        await using var c = await db.Factory.OpenAsync();
        Assert.Equal("wal", await c.ExecuteScalarAsync<string>("PRAGMA journal_mode"));
        Assert.Equal(1, await c.ExecuteScalarAsync<int>("PRAGMA foreign_keys"));
        Assert.Equal(db.Options.SqliteBusyTimeoutMs, await c.ExecuteScalarAsync<int>("PRAGMA busy_timeout"));
        // Foreign keys really are enforced.
        await Assert.ThrowsAsync<SqliteException>(() => c.ExecuteAsync(
            "INSERT INTO model_versions (model_id, version, artifact_uri, sha256, architecture, input_shape, classes, params_total, created_at, created_by) VALUES ('nope', 1, 'u', 's', 'a', '[]', '[]', 0, 't', 'x')"));
    }

    [Fact]
    public void Both_dialects_have_the_same_migration_versions()
    {
        var sqlServer = MigrationScripts.For(SqlDialect.SqlServer);
        var sqlite = MigrationScripts.For(SqlDialect.Sqlite);
        Assert.NotEmpty(sqlServer);
        Assert.Equal(sqlServer.Select(s => s.Name), sqlite.Select(s => s.Name));
        // Versions are handed out in blocks to parallel branches (0030-0039, ...): unique and increasing, not contiguous.
        Assert.Equal(1, sqlite[0].Version);
        Assert.True(sqlite.Zip(sqlite.Skip(1)).All(p => p.First.Version < p.Second.Version));
    }

    [Fact]
    public void Default_sqlite_directory_is_created()
    {
        var dir = TestDatabase.NewTempDirectory();
        try
        {
            var nested = Path.Combine(dir, "a", "b", "pipeline.db");
            _ = new DbConnectionFactory(new StorageOptions { ConnectionString = $"Data Source={nested}" });
            Assert.True(Directory.Exists(Path.GetDirectoryName(nested)));
            Assert.Equal("Data Source=.pipeline/pipeline.db", new StorageOptions().EffectiveConnectionString);
            Assert.Throws<InvalidOperationException>(() => new StorageOptions { Provider = StorageProvider.SqlServer }.EffectiveConnectionString);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task AddPipelineStorage_binds_options_registers_services_and_migrates_before_start()
    {
        var dir = TestDatabase.NewTempDirectory();
        try
        {
            var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Storage:Provider"] = "Sqlite",
                ["Storage:ConnectionString"] = $"Data Source={Path.Combine(dir, "state", "p.db")}",
                ["Storage:ArtifactRoot"] = Path.Combine(dir, "artifacts"),
            }).Build();
            var services = new ServiceCollection().AddLogging();
            services.AddPipelineStorage(configuration);
            services.AddPipelineStorage(configuration); // idempotent
            await using var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });

            var hosted = provider.GetServices<IHostedService>().ToList();
            var migrator = Assert.Single(hosted.OfType<StorageMigrationHostedService>());
            Assert.Single(hosted);
            await migrator.StartingAsync(CancellationToken.None);
            await migrator.StartAsync(CancellationToken.None);

            var runner = provider.GetRequiredService<MigrationRunner>();
            Assert.Empty((await runner.MigrateAsync()).Applied);
            Assert.True((await provider.GetRequiredService<IDatabaseHealth>().CheckAsync()).Healthy);
            var store = Assert.IsType<FileSystemArtifactStore>(provider.GetRequiredService<IArtifactStore>());
            Assert.Equal(Path.Combine(dir, "artifacts"), store.Root);
            Assert.True(await provider.GetRequiredService<IModelRegistry>().EnsureModelAsync("m"));
            _ = provider.GetRequiredService<IDriftRepository>();
            _ = provider.GetRequiredService<IAdaptationRunRepository>();
            _ = provider.GetRequiredService<ISensitivityMaskRepository>();
            _ = provider.GetRequiredService<IEvaluationRepository>();
            _ = provider.GetRequiredService<IApprovalRepository>();
            _ = provider.GetRequiredService<IDeploymentRepository>();
            _ = provider.GetRequiredService<IObservationRepository>();
            _ = provider.GetRequiredService<IAdaptationPauseRepository>();
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task MigrateOnStartup_false_skips_migrations()
    {
        using var db = TestDatabase.CreateEmpty();
        var options = Microsoft.Extensions.Options.Options.Create(new StorageOptions { ConnectionString = db.Options.ConnectionString, MigrateOnStartup = false });
        var service = new StorageMigrationHostedService(new MigrationRunner(db.Factory), options);
        await service.StartingAsync(CancellationToken.None);
        await using var c = await db.Factory.OpenAsync();
        Assert.Equal(0, await c.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM sqlite_master WHERE name = 'models'"));
    }

    [Fact]
    public async Task Health_check_reports_sqlite_healthy_and_unreachable_sql_server_unhealthy()
    {
        using var db = await TestDatabase.CreateAsync();
        var ok = await new DatabaseHealth(db.Factory).CheckAsync();
        Assert.True(ok.Healthy, ok.Error);
        Assert.Equal(StorageProvider.Sqlite, ok.Provider);

        var bad = new DbConnectionFactory(new StorageOptions
        {
            Provider = StorageProvider.SqlServer,
            ConnectionString = "Server=127.0.0.1,1;User Id=sa;Password=x;TrustServerCertificate=true;Connect Timeout=2;Pooling=false",
        });
        var result = await new DatabaseHealth(bad).CheckAsync();
        Assert.False(result.Healthy);
        Assert.False(string.IsNullOrEmpty(result.Error));
    }
}
