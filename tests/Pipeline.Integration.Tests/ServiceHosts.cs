using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Pipeline.Hosting;
using Pipeline.TestHosting;

namespace Pipeline.Integration.Tests;

/// <summary>
/// Starts real service hosts (each its own IHost and bus connection, as separate processes would
/// be) on the real RabbitMQ, sharing one SQLite database and artifact folder like services sharing
/// SQL Server and a volume. Queue names get a unique prefix so tests never see each other's messages.
/// A host running one service connects as that service's least-privilege user (infra/rabbitmq/permissions.sh,
/// made on the test vhost by ./pipeline test), as in compose and Kubernetes, so a permission the service
/// lacks fails the test; observers, probes and hosts of several modules connect as guest, and so does
/// <see cref="PublisherAsync"/>, which stands for the other services when a test publishes their messages.
/// </summary>
public sealed class ServiceHosts : IAsyncDisposable
{
    private readonly List<IHost> hosts = [];
    private IHost? publisher;

    public ServiceHosts(string? name = null)
    {
        Prefix = $"t{Guid.NewGuid():N}"[..12] + (name is null ? "" : "-" + name);
        Directory = System.IO.Directory.CreateTempSubdirectory("pipeline-it-").FullName;
    }

    public string Prefix { get; }

    public string Directory { get; }

    public string DatabasePath => Path.Combine(Directory, "pipeline.db");

    public string ArtifactRoot => Path.Combine(Directory, "artifacts");

    public Dictionary<string, string?> Settings(IDictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Messaging:Transport"] = "RabbitMq",
            ["Messaging:Host"] = Broker.Host,
            ["Messaging:Port"] = Broker.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Messaging:VirtualHost"] = Broker.VirtualHost,
            ["Messaging:Username"] = "guest",
            ["Messaging:Password"] = "guest",
            ["Messaging:EndpointPrefix"] = Prefix,
            ["Messaging:Retry:Limit"] = "2",
            ["Messaging:Retry:IntervalMilliseconds"] = "50",
            ["Roles:Approvers:0"] = "alice",
            ["Roles:Operators:0"] = "oscar",
            ["Runs:TimerInterval"] = "00:00:00.200",
            ["Runs:RelayInterval"] = "00:00:00.200",
            ["Storage:Provider"] = "Sqlite",
            ["Storage:ConnectionString"] = $"Data Source={DatabasePath}",
            ["Storage:ArtifactRoot"] = ArtifactRoot,
        };
        foreach (var (k, v) in extra ?? new Dictionary<string, string?>())
        {
            settings[k] = v;
        }

        return settings;
    }

    /// <summary>
    /// The settings of a host running <paramref name="modules"/>: one service's host connects as that service's
    /// user unless <paramref name="extra"/> names a user.
    /// </summary>
    public Dictionary<string, string?> SettingsFor(IServiceModule[] modules, IDictionary<string, string?>? extra = null)
    {
        var settings = Settings(extra);
        if (modules is [var one] && Faults.BrokerUsers.ServiceUser.ContainsValue(one.Name) && extra?.ContainsKey("Messaging:Username") != true)
        {
            settings["Messaging:Username"] = one.Name;
            settings["Messaging:Password"] = Faults.BrokerUsers.TestPassword(one.Name);
        }

        return settings;
    }

    /// <summary>A bus (guest, no consumers) that publishes what other services would: a test's input.</summary>
    public async Task<IBus> PublisherAsync()
    {
        publisher ??= await StartAsync([new PublisherModule()]);
        return publisher.Services.GetRequiredService<IBus>();
    }

    /// <summary>Starts one host running the given modules; waits until its bus is connected.</summary>
    public async Task<IHost> StartAsync(IServiceModule[] modules, IDictionary<string, string?>? extra = null,
        Action<IServiceCollection>? configure = null)
    {
        var host = await TestHost.StartAsync(SettingsFor(modules, extra), modules, Logging, configure);
        hosts.Add(host);
        return host;
    }

    /// <summary>Starts a web host (Kestrel on a free loopback port) running the modules; <paramref name="map"/> adds its routes.</summary>
    public async Task<(IHost Host, Uri Address)> StartWebAsync(IServiceModule[] modules, IDictionary<string, string?>? extra,
        Action<Microsoft.AspNetCore.Builder.WebApplication> map)
    {
        var (app, address) = await TestHost.StartWebAsync(Directory, SettingsFor(modules, extra), modules, Logging, map);
        hosts.Add(app);
        return (app, address);
    }

    public async ValueTask DisposeAsync()
    {
        await TestHost.StopAsync(hosts);
        TestHost.DeleteDirectory(Directory);
    }

    private static void Logging(ILoggingBuilder logging) => logging.AddSimpleConsole().SetMinimumLevel(
        Enum.TryParse<LogLevel>(Environment.GetEnvironmentVariable("PIPELINE_TEST_LOGLEVEL"), out var level) ? level : LogLevel.Warning);
}

/// <summary>No consumers: the bus of <see cref="ServiceHosts.PublisherAsync"/>.</summary>
public sealed class PublisherModule : IServiceModule
{
    public string Name => "test-publisher";

    public void ConfigureServices(IServiceCollection services, IConfiguration configuration)
    {
    }

    public void AddConsumers(IBusRegistrationConfigurator bus)
    {
    }
}
