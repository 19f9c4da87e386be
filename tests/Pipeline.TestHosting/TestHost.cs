using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Pipeline.Hosting;
using Pipeline.Storage;

namespace Pipeline.TestHosting;

/// <summary>
/// The one way the tests host services in their own process: the given settings and no other configuration source,
/// the logging the test asks for, the storage every service host runs with and the service defaults
/// (<see cref="PipelineHost.AddPipelineServices"/>), Kestrel on a free loopback port for a web host, and a bus that
/// is connected before the test goes on. A host that fails to start is disposed before the error reaches the test.
/// </summary>
public static class TestHost
{
    private static readonly TimeSpan DefaultBusReady = TimeSpan.FromSeconds(30);

    /// <summary>A generic host running <paramref name="modules"/>; <paramref name="services"/> adds to its container after them.</summary>
    public static async Task<IHost> StartAsync(
        IDictionary<string, string?> settings, IServiceModule[] modules, Action<ILoggingBuilder> logging,
        Action<IServiceCollection>? services = null, TimeSpan? busReady = null)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Logging.ClearProviders();
        logging(builder.Logging);
        builder.Services.AddServiceStorage(builder.Configuration);
        builder.Services.AddPipelineServices(builder.Configuration, modules);
        services?.Invoke(builder.Services);
        var host = builder.Build();
        await StartedAsync(host, busReady);
        return host;
    }

    /// <summary>A web host running <paramref name="modules"/> on a free loopback port; <paramref name="map"/> adds its routes.</summary>
    public static async Task<(WebApplication App, Uri Address)> StartWebAsync(
        string contentRoot, IDictionary<string, string?> settings, IServiceModule[] modules, Action<ILoggingBuilder> logging,
        Action<WebApplication> map, TimeSpan? busReady = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = contentRoot });
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Logging.ClearProviders();
        logging(builder.Logging);
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddServiceStorage(builder.Configuration);
        builder.Services.AddPipelineServices(builder.Configuration, modules);
        var app = builder.Build();
        map(app);
        await StartedAsync(app, busReady);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return (app, new Uri(address));
    }

    /// <summary>Stops (at most 10 s each) and disposes the hosts, the last started first.</summary>
    public static async Task StopAsync(IEnumerable<IHost> hosts)
    {
        foreach (var host in hosts.Reverse())
        {
            try
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await host.StopAsync(cts.Token);
            }
            finally
            {
                await DisposeAsync(host);
            }
        }
    }

    /// <summary>Deletes a test's folder, best effort (SQLite may still hold a WAL file briefly).</summary>
    public static void DeleteDirectory(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
            // best effort
        }
        catch (UnauthorizedAccessException)
        {
            // best effort
        }
    }

    private static async Task StartedAsync(IHost host, TimeSpan? busReady)
    {
        try
        {
            await host.StartAsync();
            using var cts = new CancellationTokenSource(busReady ?? DefaultBusReady);
            await host.Services.GetRequiredService<IBusControl>().WaitForHealthStatus(BusHealthStatus.Healthy, cts.Token);
        }
        catch
        {
            await DisposeAsync(host);
            throw;
        }
    }

    private static async ValueTask DisposeAsync(IHost host)
    {
        if (host is IAsyncDisposable async)
        {
            await async.DisposeAsync();
        }
        else
        {
            host.Dispose();
        }
    }
}
