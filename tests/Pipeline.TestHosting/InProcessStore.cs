using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Artifacts;
using Pipeline.ML.Models;
using Pipeline.Storage;
using Pipeline.Storage.Migrations;
using Pipeline.Storage.Repositories;

namespace Pipeline.TestHosting;

/// <summary>
/// The store and bus every in-process test host runs on: MassTransit's in-memory transport with one quick retry, a
/// SQLite file and an artifact folder in the test's own directory. The registry and artifacts are seeded before the
/// hosts start, as other services would have written them in production.
/// </summary>
public static class InProcessStore
{
    /// <summary>The settings for <paramref name="directory"/>; a test adds its service's own to them.</summary>
    public static Dictionary<string, string?> Settings(string directory) => new()
    {
        ["Messaging:Transport"] = "InMemory",
        ["Messaging:Retry:Limit"] = "1",
        ["Messaging:Retry:IntervalMilliseconds"] = "10",
        ["Storage:Provider"] = "Sqlite",
        ["Storage:ConnectionString"] = $"Data Source={Path.Combine(directory, "pipeline.db")}",
        ["Storage:ArtifactRoot"] = Path.Combine(directory, "artifacts"),
    };

    /// <summary>Migrates the database of <paramref name="settings"/>, then runs <paramref name="seed"/> over its storage and artifacts.</summary>
    public static async Task SeedAsync(IDictionary<string, string?> settings, Func<IServiceProvider, Task> seed)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        await using var provider = new ServiceCollection()
            .AddLogging()
            .AddPipelineStorage(configuration)
            .AddArtifacts()
            .BuildServiceProvider();
        await provider.GetRequiredService<MigrationRunner>().MigrateAsync();
        await seed(provider);
    }

    /// <summary>Registers <c>ModelBundle.Create("mlp", seed)</c> as the model's next version.</summary>
    public static async Task<ModelVersionRecord> RegisterMlpAsync(
        IServiceProvider services, string modelId, int seed, VersionMetadata? metadata = null)
    {
        using var bundle = ModelBundle.Create("mlp", seed);
        return await services.GetRequiredService<ModelArtifacts>()
            .RegisterAsync(modelId, bundle, "tests", metadata ?? new VersionMetadata(), null, CancellationToken.None);
    }
}
