using System.Net;
using System.Text.Json;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Pipeline.Deployment;
using Pipeline.Hosting;

namespace Pipeline.Integration.Tests;

/// <summary>A real service host over HTTP: liveness, readiness (broker and database), metrics.</summary>
public class HealthEndpointTests
{
    private static async Task<(WebApplication App, HttpClient Http)> StartAsync(ServiceHosts hosts, IDictionary<string, string?>? extra = null)
    {
        var builder = WebApplication.CreateBuilder();
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddInMemoryCollection(hosts.SettingsFor([new DeploymentModule()], extra));
        builder.Logging.ClearProviders();
        builder.AddPipelineDefaults(new DeploymentModule());
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        app.MapPipelineEndpoints();
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await app.Services.GetRequiredService<IBusControl>().WaitForHealthStatus(BusHealthStatus.Healthy, cts.Token);
        return (app, new HttpClient { BaseAddress = new Uri(address) });
    }

    [Fact]
    public async Task A_service_is_live_ready_with_broker_and_database_and_serves_prometheus_metrics()
    {
        await using var hosts = new ServiceHosts("health");
        var (app, http) = await StartAsync(hosts);
        await using var _ = app;
        using var __ = http;

        using var live = await http.GetAsync(new Uri("/health/live", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);

        using var ready = await http.GetAsync(new Uri("/health/ready", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        var body = JsonDocument.Parse(await ready.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("Healthy", body.GetProperty("status").GetString());
        Assert.Equal("Healthy", body.GetProperty("checks").GetProperty("bus").GetProperty("status").GetString());
        Assert.Equal("Healthy", body.GetProperty("checks").GetProperty("database").GetProperty("status").GetString());

        var metrics = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Contains("http_requests_received_total", metrics, StringComparison.Ordinal);
        Assert.Contains("process_cpu_seconds_total", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Readiness_fails_with_the_reason_when_the_database_is_unreachable_while_liveness_holds()
    {
        await using var hosts = new ServiceHosts("health-db");
        var (app, http) = await StartAsync(hosts, new Dictionary<string, string?>
        {
            ["Storage:Provider"] = "SqlServer",
            ["Storage:ConnectionString"] = "Server=127.0.0.1,1;Database=pipeline;User Id=sa;Password=x;Connect Timeout=2;TrustServerCertificate=true",
            ["Storage:MigrateOnStartup"] = "false",
        });
        await using var _ = app;
        using var __ = http;

        using var live = await http.GetAsync(new Uri("/health/live", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        using var ready = await http.GetAsync(new Uri("/health/ready", UriKind.Relative));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        var body = JsonDocument.Parse(await ready.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("Unhealthy", body.GetProperty("checks").GetProperty("database").GetProperty("status").GetString());
        Assert.Equal("Healthy", body.GetProperty("checks").GetProperty("bus").GetProperty("status").GetString());
    }

    /// <summary>
    /// A receive endpoint that stopped consuming (its queue gone and its user no longer allowed to declare it,
    /// as when a fault bind was refused) must fail readiness, so Kubernetes stops routing to the instance and restarts it.
    /// </summary>
    [Fact]
    public async Task Readiness_fails_while_a_receive_endpoint_is_faulted_and_recovers_with_it()
    {
        await using var hosts = new ServiceHosts("health-endpoint");
        var (app, http) = await StartAsync(hosts);
        await using var _ = app;
        using var __ = http;
        var node = Environment.GetEnvironmentVariable("RABBITMQ_NODENAME") ?? "rabbit@localhost";
        var queue = new KebabCaseEndpointNameFormatter(hosts.Prefix, includeNamespace: true).Consumer<ListModelsConsumer>();
        using (var ready = await http.GetAsync(new Uri("/health/ready", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        }

        try
        {
            await LeastPrivilegeVhost.CtlAsync("clear_permissions", "-p", Broker.VirtualHost, "deployment");
            await LeastPrivilegeVhost.CtlAsync("delete_queue", "-p", Broker.VirtualHost, queue);
            Assert.True(await ReadyIsAsync(http, HttpStatusCode.ServiceUnavailable), "readiness stayed 200 with a faulted endpoint");
        }
        finally
        {
            await Faults.BrokerUsers.ApplyAsync(node, Broker.VirtualHost);
        }

        Assert.True(await ReadyIsAsync(http, HttpStatusCode.OK), "readiness did not recover once the endpoint could consume again");
    }

    private static async Task<bool> ReadyIsAsync(HttpClient http, HttpStatusCode expected)
    {
        for (var i = 0; i < 120; i++)
        {
            using var ready = await http.GetAsync(new Uri("/health/ready", UriKind.Relative));
            if (ready.StatusCode == expected)
            {
                return true;
            }

            await Task.Delay(500);
        }

        return false;
    }
}
