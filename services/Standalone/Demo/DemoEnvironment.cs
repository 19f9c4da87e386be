using System.Net.Http.Json;
using System.Text.Json;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.DriftDetection;
using Pipeline.EvaluationGate;
using Pipeline.Hosting;
using Pipeline.Inference;
using Pipeline.SensitivityScoring;
using Pipeline.SparseTuning;

namespace Pipeline.Standalone.Demo;

/// <summary>Where the demo's pipeline runs: services, storage, the bus and the inference URL.</summary>
public interface IDemoEnvironment : IAsyncDisposable
{
    string Mode { get; }

    IServiceProvider Services { get; }

    Uri InferenceUrl { get; }

    /// <summary>Each service's readiness, as its /health/ready says.</summary>
    Task<IReadOnlyList<(string Service, string Status)>> ReadinessAsync(CancellationToken ct);
}

public static class StandaloneModules
{
    public static IServiceModule[] All() =>
    [
        new AdaptationRuns.AdaptationRunsModule(), new DriftDetectionModule(), new SensitivityScoringModule(), new SparseTuningModule(),
        new EvaluationGateModule(), new Deployment.DeploymentModule(), new InferenceModule(),
    ];
}

/// <summary>Every service in this process on the in-memory transport (the embedded default).</summary>
public sealed class StandaloneEnvironment : IDemoEnvironment
{
    private readonly WebApplication app;
    private readonly HttpClient http;
    private readonly IServiceModule[] modules;

    private StandaloneEnvironment(WebApplication app, IServiceModule[] modules, Uri url)
    {
        this.app = app;
        this.modules = modules;
        InferenceUrl = url;
        http = new HttpClient { BaseAddress = url };
    }

    public string Mode => "standalone";

    public IServiceProvider Services => app.Services;

    public Uri InferenceUrl { get; }

    public static async Task<StandaloneEnvironment> StartAsync(
        string[] args, IDictionary<string, string?> settings, DemoEvents events, CancellationToken ct)
    {
        var modules = StandaloneModules.All();
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.AddPipelineDefaults([.. modules, new DemoObserverModule(events)]);
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        app.MapPipelineEndpoints();
        app.MapInferenceEndpoints();
        await app.StartAsync(ct);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        using var ready = CancellationTokenSource.CreateLinkedTokenSource(ct);
        ready.CancelAfter(TimeSpan.FromSeconds(60));
        await app.Services.GetRequiredService<IBusControl>().WaitForHealthStatus(BusHealthStatus.Healthy, ready.Token);
        return new StandaloneEnvironment(app, modules, new Uri(address));
    }

    public async Task<IReadOnlyList<(string Service, string Status)>> ReadinessAsync(CancellationToken ct)
    {
        var status = await HealthAsync(http, ct);
        return modules.Select(m => (m.Name, status)).ToList();
    }

    internal static async Task<string> HealthAsync(HttpClient client, CancellationToken ct)
    {
        try
        {
            using var response = await client.GetAsync(new Uri("/health/ready", UriKind.Relative), ct);
            var body = await response.Content.ReadFromJsonAsync<JsonElement>(ct);
            return body.GetProperty("status").GetString() ?? "unknown";
        }
        catch (HttpRequestException ex)
        {
            return "unreachable: " + ex.Message;
        }
    }

    public async ValueTask DisposeAsync()
    {
        http.Dispose();
        await app.StopAsync(TimeSpan.FromSeconds(15));
        await app.DisposeAsync();
    }
}
