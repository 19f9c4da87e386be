using Dapper;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Pipeline.AdaptationRuns;
using Pipeline.Artifacts;
using Pipeline.Hosting;
using Pipeline.Storage.Data;
using Pipeline.Storage.Migrations;

namespace Pipeline.Packaging.Tests;

/// <summary>
/// The start warm-ups run the worker's real storage, artifact and library paths against a real SQLite
/// database and artifact store, and leave nothing behind: no row in any table, no file in the store.
/// </summary>
public sealed class StartWarmUpTests
{
    [Theory]
    [MemberData(nameof(TunerWarmUpTests.Workers), MemberType = typeof(TunerWarmUpTests))]
    public async Task A_warm_up_runs_the_first_jobs_paths_and_leaves_no_row_and_no_artifact(string worker)
    {
        var (module, type, _) = TunerWarmUpTests.Worker(worker);
        await using var world = await WarmUpWorld.CreateAsync(module);
        var rowsBefore = await world.RowCountsAsync();
        Assert.Contains(rowsBefore, t => t.Key == "adaptation_runs"); // the schema is there: the reads are real

        var warmUp = (IHostedService)ActivatorUtilities.CreateInstance(world.Provider, type);
        await warmUp.StartAsync(CancellationToken.None);

        Assert.Equal(rowsBefore, await world.RowCountsAsync());
        Assert.Empty(Directory.GetFiles(world.ArtifactRoot, "*", SearchOption.AllDirectories));
        var elapsed = warmUp switch
        {
            LibtorchWarmUp l => l.PathsElapsed,
            RunOwnerWarmUp r => r.Elapsed,
            Deployment.DeploymentWarmUp d => d.Elapsed,
            _ => null,
        };
        Assert.NotNull(elapsed);
    }

    [Theory]
    [MemberData(nameof(TunerWarmUpTests.Workers), MemberType = typeof(TunerWarmUpTests))]
    public async Task A_warm_up_that_cannot_read_the_database_does_not_stop_the_host_from_starting(string worker)
    {
        var (module, type, _) = TunerWarmUpTests.Worker(worker);
        await using var world = await WarmUpWorld.CreateAsync(migrate: false, module);

        var warmUp = (IHostedService)ActivatorUtilities.CreateInstance(world.Provider, type);
        await warmUp.StartAsync(CancellationToken.None); // no table: every read fails, and the start goes on

        var elapsed = warmUp switch
        {
            LibtorchWarmUp l => l.PathsElapsed,
            RunOwnerWarmUp r => r.Elapsed,
            Deployment.DeploymentWarmUp d => d.Elapsed,
            _ => TimeSpan.Zero,
        };
        Assert.Null(elapsed); // not warmed, and not reported as warmed
    }

    [Fact]
    public async Task The_contracts_are_warmed_with_the_options_the_bus_reads_them_with()
    {
        // MassTransit replaces its options when the bus is configured (ConfigureJsonSerializerOptions copies them):
        // the host makes its hosted services (the bus among them) before it starts the first, so a warm-up's start sees the bus's options.
        await using var world = await WarmUpWorld.CreateAsync(new Deployment.DeploymentModule());
        var hosted = world.Provider.GetServices<IHostedService>().ToList();
        var busOptions = MassTransit.Serialization.SystemTextJsonMessageSerializer.Options;
        Assert.Contains(busOptions.Converters, c => c is System.Text.Json.Serialization.JsonStringEnumConverter);

        await hosted.OfType<Deployment.DeploymentWarmUp>().Single().StartAsync(CancellationToken.None);

        Assert.Same(busOptions, MassTransit.Serialization.SystemTextJsonMessageSerializer.Options);
        Assert.True(busOptions.IsReadOnly); // used: its metadata cache is the one the warm-up filled
    }

    [Fact]
    public void Every_message_contract_goes_through_masstransits_json_options_without_failing_the_start()
    {
        var messages = typeof(Contracts.StartAdaptation).Assembly.GetExportedTypes()
            .Count(t => t is { IsClass: true, IsAbstract: false } && t.Namespace == typeof(Contracts.StartAdaptation).Namespace
                && !typeof(Exception).IsAssignableFrom(t));

        var warmed = StartWarmUp.WarmContracts();

        Assert.True(messages >= 20, $"only {messages} contract types found");
        Assert.Equal(messages, warmed);
    }
}

/// <summary>A module's services on a fresh SQLite file (migrated) and artifact folder, with the CPU as device.</summary>
internal sealed class WarmUpWorld : IAsyncDisposable
{
    private readonly string directory;

    private WarmUpWorld(string directory, ServiceProvider provider)
    {
        this.directory = directory;
        Provider = provider;
    }

    public ServiceProvider Provider { get; }

    public string ArtifactRoot => Path.Combine(directory, "artifacts");

    public static Task<WarmUpWorld> CreateAsync(params IServiceModule[] modules) => CreateAsync(migrate: true, modules);

    /// <summary>With <paramref name="migrate"/> false the database has no tables: every read a warm-up makes fails.</summary>
    public static async Task<WarmUpWorld> CreateAsync(bool migrate, params IServiceModule[] modules)
    {
        var directory = Path.Combine(Path.GetTempPath(), "pipeline-warm-world-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Combine(directory, "artifacts"));
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Messaging:Transport"] = "InMemory",
            ["Storage:Provider"] = "Sqlite",
            ["Storage:ConnectionString"] = $"Data Source={Path.Combine(directory, "pipeline.db")}",
            ["Storage:ArtifactRoot"] = Path.Combine(directory, "artifacts"),
            ["Tuning:Device"] = "cpu", ["Tuning:Strategy"] = "head", ["Tuning:BatchSize"] = "16",
            ["Scoring:Device"] = "cpu", ["Gate:Device"] = "cpu", ["Gate:LatencyBatchSize"] = "8",
        }).Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddPipelineServices(configuration, modules);
        var provider = services.BuildServiceProvider();
        if (migrate)
        {
            await new MigrationRunner(provider.GetRequiredService<IDbConnectionFactory>()).MigrateAsync();
        }

        return new WarmUpWorld(directory, provider);
    }

    /// <summary>A warm-up as the host makes it (its registration is checked in <see cref="TunerWarmUpTests"/>).</summary>
    public T WarmUp<T>() where T : IHostedService => ActivatorUtilities.CreateInstance<T>(Provider);

    /// <summary>Every table's row count.</summary>
    public async Task<SortedDictionary<string, long>> RowCountsAsync()
    {
        await using var connection = await Provider.GetRequiredService<IDbConnectionFactory>().OpenAsync();
        var tables = await connection.QueryAsync<string>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'");
        var counts = new SortedDictionary<string, long>();
        foreach (var table in tables)
        {
            counts[table] = await connection.ExecuteScalarAsync<long>($"SELECT COUNT(*) FROM \"{table}\"");
        }

        return counts;
    }

    public async ValueTask DisposeAsync()
    {
        await Provider.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(directory, recursive: true);
    }
}
