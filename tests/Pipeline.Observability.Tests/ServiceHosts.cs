using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Pipeline.Artifacts;
using Pipeline.Contracts;
using Pipeline.DriftDetection;
using Pipeline.Hosting;
using Pipeline.Inference;
using Pipeline.Storage.Repositories;
using Pipeline.TestHosting;

namespace Pipeline.Observability.Tests;

/// <summary>
/// Two real service hosts in this process, built with the project's hosting defaults by the tests' one harness
/// (Pipeline.TestHosting, then MapPipelineEndpoints), each on Kestrel at a free loopback port: Inference
/// (with its HTTP API) and DriftDetection. They share one SQLite database and artifact folder, as
/// the services share SQL Server and the artifact volume under compose. Each has MassTransit's
/// in-memory transport; a bridge consumer in the inference host republishes ObservationsIngested
/// on the drift host's bus, standing in for RabbitMQ between them.
/// </summary>
public sealed class ServiceHosts : IAsyncDisposable
{
    public const string ModelId = "fashion-mnist";

    private const int Width = 784;

    private readonly List<WebApplication> apps = [];
    private PayloadRef? reference;

    private ServiceHosts(string directory) => Directory = directory;

    public string Directory { get; }

    public WebApplication Inference { get; private set; } = null!;

    public WebApplication Drift { get; private set; } = null!;

    public Uri InferenceAddress { get; private set; } = null!;

    public Uri DriftAddress { get; private set; } = null!;

    public HttpClient InferenceHttp { get; private set; } = null!;

    public static async Task<ServiceHosts> StartAsync()
    {
        var hosts = new ServiceHosts(System.IO.Directory.CreateTempSubdirectory("pipeline-observability-").FullName);
        try
        {
            await hosts.StartCoreAsync();
            return hosts;
        }
        catch
        {
            await hosts.DisposeAsync();
            throw;
        }
    }

    private Dictionary<string, string?> Settings()
    {
        var settings = InProcessStore.Settings(Directory);
        settings["Inference:ModelId"] = ModelId;
        settings["Inference:Device"] = "cpu";
        settings["Inference:RefreshInterval"] = "00:00:00";
        settings["Inference:Auth:Enabled"] = "false"; // the API's access rules are Pipeline.Inference.Tests' subject
        settings["DriftDetection:WindowSize"] = "32";
        settings["DriftDetection:Device"] = "cpu";
        settings["DriftDetection:UseEmbeddings"] = "false";
        settings["DriftDetection:MmdPermutations"] = "20";
        settings["DriftDetection:MaxReferenceRows"] = "200";
        settings["Logging:LogLevel:Default"] = "Warning";
        settings["Roles:Operators:0"] = "alice";
        settings["Runs:MetricsInterval"] = "00:00:00.200";
        return settings;
    }

    private async Task StartCoreAsync()
    {
        // The registry and artifacts exist before the services start, as in production.
        await InProcessStore.SeedAsync(Settings(), async seed =>
        {
            var rows = Rows(200, seed: 0, scale: 1f);
            reference = await seed.GetRequiredService<DatasetArtifacts>().SaveAsync(
                new FeatureBlob(rows.Length, Width, [.. rows.SelectMany(r => r)]), "datasets", $"{ModelId}/drift-reference.pfb", CancellationToken.None);
            await RegisterAsync(seed, seed: 1);
            await seed.GetRequiredService<IModelRegistry>().SetProductionAsync(ModelId, 1, "tests", "observability test");
        });

        (Drift, DriftAddress) = await StartHostAsync([new DriftDetectionModule(), new AdaptationRuns.AdaptationRunsModule()], _ => { });
        var bridge = new BusBridge(Drift.Services.GetRequiredService<IBus>());
        (Inference, InferenceAddress) = await StartHostAsync(
            [new InferenceModule(), new BridgeModule(bridge)], app => app.MapInferenceEndpoints());
        InferenceHttp = new HttpClient { BaseAddress = InferenceAddress, Timeout = TimeSpan.FromSeconds(30) };
    }

    private async Task<(WebApplication App, Uri Address)> StartHostAsync(IServiceModule[] modules, Action<WebApplication> map)
    {
        var (app, address) = await TestHost.StartWebAsync(Directory, Settings(), modules, _ => { }, web =>
        {
            web.MapPipelineEndpoints();
            map(web);
        });
        apps.Add(app);
        return (app, address);
    }

    /// <summary>Registers ModelBundle.Create("mlp", seed) as the next version, with the drift reference rows in its metadata.</summary>
    private Task<ModelVersionRecord> RegisterAsync(IServiceProvider services, int seed) =>
        InProcessStore.RegisterMlpAsync(services, ModelId, seed, new VersionMetadata { DriftReference = reference });

    /// <summary>Waits (bounded) until GET /model on the inference host reports the version.</summary>
    public async Task WaitForServedVersionAsync(int version, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (true)
        {
            try
            {
                using var response = await InferenceHttp.GetAsync(new Uri("/model", UriKind.Relative), cts.Token);
                if (response.IsSuccessStatusCode)
                {
                    var status = await response.Content.ReadFromJsonAsync<JsonElement>(cts.Token);
                    if (status.GetProperty("version").GetInt32() == version)
                    {
                        return;
                    }
                }

                await Task.Delay(50, cts.Token);
            }
            catch (OperationCanceledException) when (cts.IsCancellationRequested)
            {
                throw new TimeoutException($"the inference host did not serve v{version} within {timeout.TotalSeconds:F0} s");
            }
        }
    }

    /// <summary>Deploys the next version as the Deployment service would: move the alias, publish ModelDeployed.</summary>
    public async Task DeployNewVersionAsync(int seed)
    {
        var services = Inference.Services;
        var record = await RegisterAsync(services, seed);
        var previous = (await services.GetRequiredService<IModelRegistry>().GetProductionAsync(ModelId))?.Version;
        await services.GetRequiredService<IModelRegistry>().SetProductionAsync(ModelId, record.Version, "tests", "observability test");
        await services.GetRequiredService<IBus>().Publish(new ModelDeployed
        {
            ModelId = ModelId, Version = record.Version, PreviousVersion = previous, ArtifactUri = record.ArtifactUri,
            Sha256 = record.Sha256, By = "tests", Reason = "observability test",
        });
    }

    /// <summary>
    /// Predicts one batch (drifted rows, as the traffic) and sends its labels on the drift host's bus as
    /// Inference's POST /feedback would: the first <paramref name="correct"/> labels are the predicted
    /// classes, the others a different class.
    /// </summary>
    public async Task SendFeedbackAsync(int rows, int correct)
    {
        using var response = await PostAsync("/predict", PredictJson(rows, seed: 7, scale: 0.3f));
        response.EnsureSuccessStatusCode();
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        var predicted = body.GetProperty("predictions").EnumerateArray().Select(p => p.GetProperty("class").GetInt32()).ToList();
        var labels = predicted.Select((c, i) => i < correct ? c : (c + 1) % 10).ToList();
        await Drift.Services.GetRequiredService<IBus>().Publish(new LabelsObserved
        {
            ModelId = ModelId, BatchId = body.GetProperty("batchId").GetGuid(), Labels = labels,
        });
    }

    /// <summary>
    /// Waits for the model's active run (the operator's) and moves it to AwaitingApproval in the run
    /// owner's table, as the owner does when the gate asks an operator (no scorer, tuner or gate runs here).
    /// </summary>
    public async Task MoveActiveRunToAwaitingApprovalAsync(TimeSpan timeout)
    {
        var runs = Drift.Services.GetRequiredService<IAdaptationRunRepository>();
        using var cts = new CancellationTokenSource(timeout);
        while (true)
        {
            var run = await runs.GetActiveRunAsync(ModelId, cts.Token);
            if (run is { State: not RunState.Detected })
            {
                var path = new[] { RunState.Scoring, RunState.Tuning, RunState.Evaluating, RunState.AwaitingApproval };
                foreach (var next in path.SkipWhile(s => s <= run.State))
                {
                    var current = (await runs.GetAsync(run.RunId, cts.Token))!.State;
                    if (!await runs.TryTransitionAsync(run.RunId, current, next, detail: "observability test", cancellationToken: cts.Token))
                    {
                        throw new InvalidOperationException($"run {run.RunId}: {current} -> {next} refused");
                    }
                }

                return;
            }

            await Task.Delay(50, cts.Token);
        }
    }

    /// <summary>Rows of uniform pixels in [0, scale): scale 1 is the reference distribution, a smaller one is drifted (darker images).</summary>
    public static float[][] Rows(int count, int seed, float scale)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count)
            .Select(_ => Enumerable.Range(0, Width).Select(_ => (float)random.NextDouble() * scale).ToArray())
            .ToArray();
    }

    public static string PredictJson(int rows, int seed, float scale = 1f) =>
        JsonSerializer.Serialize(new { instances = Rows(rows, seed, scale) });

    public Task<HttpResponseMessage> PostAsync(string path, string json) =>
        InferenceHttp.PostAsync(new Uri(path, UriKind.Relative), new StringContent(json, Encoding.UTF8, "application/json"));

    public async ValueTask DisposeAsync()
    {
        InferenceHttp?.Dispose();
        await TestHost.StopAsync(apps);
        SqliteConnection.ClearAllPools();
        TestHost.DeleteDirectory(Directory);
    }
}

/// <summary>The drift host's bus, as seen from the inference host.</summary>
public sealed class BusBridge(IBus target)
{
    public IBus Target { get; } = target;
}

/// <summary>Carries what Inference publishes for DriftDetection across to the drift host (RabbitMQ's job under compose).</summary>
public sealed class ObservationsBridgeConsumer(BusBridge bridge) : IConsumer<ObservationsIngested>
{
    public Task Consume(ConsumeContext<ObservationsIngested> context) =>
        bridge.Target.Publish(context.Message, context.CancellationToken);
}

public sealed class BridgeModule(BusBridge bridge) : IServiceModule
{
    public string Name => "test-bridge";

    public void ConfigureServices(IServiceCollection services, IConfiguration configuration) => services.AddSingleton(bridge);

    public void AddConsumers(IBusRegistrationConfigurator bus) => bus.AddConsumer<ObservationsBridgeConsumer>();
}
