using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Pipeline.Artifacts;
using Pipeline.Hosting;
using Pipeline.Launch;
using Pipeline.Storage;

namespace Pipeline.Standalone.Demo;

/// <summary>
/// The same scenario against separate service processes on RabbitMQ: each service's own host
/// executable (as in docker compose), sharing one SQLite database and artifact folder. The demo
/// itself is one more client on the bus.
/// </summary>
public sealed class DistributedEnvironment : IDemoEnvironment
{
    private ServiceProcesses? processes;
    private IHost? client;

    public string Mode => "distributed";

    public IServiceProvider Services => client!.Services;

    public Uri InferenceUrl { get; private set; } = new("http://127.0.0.1");

    public static async Task<DistributedEnvironment> StartAsync(
        IConfiguration appConfig, IDictionary<string, string?> storage, Uri broker, string workDir, DemoEvents events, CancellationToken ct)
    {
        var env = new DistributedEnvironment();
        try
        {
            env.processes = await ServiceProcesses.StartAsync(Settings(appConfig, storage, broker), workDir, TimeSpan.FromSeconds(120), ct);
            env.InferenceUrl = env.processes.UrlOf("inference");
            await env.StartClientAsync(storage, broker, events, ct);
            return env;
        }
        catch
        {
            await env.DisposeAsync();
            throw;
        }
    }

    private static Dictionary<string, string?> Settings(IConfiguration appConfig, IDictionary<string, string?> storage, Uri broker)
    {
        var settings = new Dictionary<string, string?>(ServiceProcesses.BrokerSettings(broker));
        foreach (var (k, v) in storage)
        {
            settings[k] = v;
        }

        // The demo's stage settings (appsettings.json of the Standalone host) apply to every process, unless the
        // demo set them itself (the continual demo's cooldown).
        foreach (var section in new[] { "Runs", "Roles", "DriftDetection", "Scoring", "Tuning", "Gate", "Inference", "Logging" })
        {
            foreach (var (k, v) in appConfig.GetSection(section).AsEnumerable())
            {
                if (v is not null && !storage.ContainsKey(k))
                {
                    settings[k] = v;
                }
            }
        }

        // The demo's client registers the base model as its broker user: an approver, like the configured ones.
        settings[$"Roles:Approvers:{appConfig.GetSection("Roles:Approvers").GetChildren().Count()}"] = settings["Messaging:Username"];
        return settings;
    }

    private async Task StartClientAsync(IDictionary<string, string?> storage, Uri broker, DemoEvents events, CancellationToken ct)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddInMemoryCollection(ServiceProcesses.BrokerSettings(broker).Concat(storage));
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole().SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddServiceStorage(builder.Configuration);
        builder.Services.AddPipelineServices(builder.Configuration, new DemoObserverModule(events));
        builder.Services.AddArtifacts();
        client = builder.Build();
        await client.StartAsync(ct);
        using var ready = CancellationTokenSource.CreateLinkedTokenSource(ct);
        ready.CancelAfter(TimeSpan.FromSeconds(60));
        await client.Services.GetRequiredService<IBusControl>().WaitForHealthStatus(BusHealthStatus.Healthy, ready.Token);
    }

    public Task<IReadOnlyList<(string Service, string Status)>> ReadinessAsync(CancellationToken ct) =>
        processes?.ReadinessAsync(ct) ?? Task.FromResult<IReadOnlyList<(string Service, string Status)>>([]);

    public async ValueTask DisposeAsync()
    {
        if (client is not null)
        {
            await client.StopAsync(TimeSpan.FromSeconds(10));
            client.Dispose();
        }

        if (processes is not null)
        {
            await processes.DisposeAsync();
        }
    }
}
