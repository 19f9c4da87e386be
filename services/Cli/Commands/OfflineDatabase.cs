using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Hosting;
using Pipeline.Storage;

namespace Pipeline.Cli.Commands;

/// <summary>The storage of a database file read offline (<c>--db FILE</c>); never creates one where the user mistyped a path.</summary>
internal static class OfflineDatabase
{
    public static ServiceProvider Open(string file, Action<IServiceCollection>? more = null)
    {
        if (!File.Exists(file))
        {
            throw new UserErrorException($"no database at {file}: pass --db FILE (the demo prints the one it used)");
        }

        var config = new ConfigurationBuilder().AddEnvironmentVariables().AddEnvironmentVariables("PIPELINE_").Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddPipelineStorage(config, o =>
        {
            o.Provider = StorageProvider.Sqlite;
            o.ConnectionString = new SqliteConnectionStringBuilder { DataSource = file }.ToString();
            o.MigrateOnStartup = false;
        });
        more?.Invoke(services);
        return services.BuildServiceProvider();
    }
}
