using System.Net.Http.Json;
using System.Text;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Pipeline.Artifacts;
using Pipeline.Contracts;
using Pipeline.ML.Models;
using Pipeline.Hosting;
using Pipeline.Storage.Artifacts;
using Pipeline.Storage.Repositories;
using Pipeline.TestHosting;

namespace Pipeline.Inference.Tests;

/// <summary>
/// A real inference web host: Kestrel on a free loopback port, MassTransit's in-memory transport via
/// the hosting defaults, SQLite and an artifact folder in a temp directory, plus a recorder module
/// that consumes what the service publishes.
/// </summary>
public sealed class InferenceHost : IAsyncDisposable
{
    public const string ModelId = "fashion-mnist";

    /// <summary>The API key of the client <see cref="Client"/> that <see cref="Http"/> sends (test-only, made up here).</summary>
    public const string ApiKey = "tests-key-0123456789abcdef";

    public const string Client = "tests";

    private readonly WebApplication app;

    private InferenceHost(WebApplication app, string directory, CapturingLoggerProvider logs, Uri address)
    {
        this.app = app;
        Directory = directory;
        Logs = logs;
        Address = address;
        Http = ClientWith(ApiKey);
    }

    public Uri Address { get; }

    public string Directory { get; }

    public HttpClient Http { get; }

    public CapturingLoggerProvider Logs { get; }

    public IServiceProvider Services => app.Services;

    public MessageRecorder Recorder => Services.GetRequiredService<MessageRecorder>();

    public ProductionModel Model => Services.GetRequiredService<ProductionModel>();

    public string ArtifactRoot => Path.Combine(Directory, "artifacts");

    public static Dictionary<string, string?> Settings(string directory, IDictionary<string, string?>? extra = null)
    {
        var settings = InProcessStore.Settings(directory);
        settings["Inference:ModelId"] = ModelId;
        settings["Inference:Device"] = "cpu";
        settings["Inference:RefreshInterval"] = "00:00:00";
        settings["Logging:LogLevel:Default"] = "Information";
        // Limits far above what the tests send; AccessTests set their own.
        settings["Inference:Limits:RequestsPerSecond"] = "100000";
        settings["Inference:Limits:Burst"] = "100000";
        settings["Inference:Limits:PredictConcurrency"] = "64";
        settings["Inference:Limits:PredictQueue"] = "10000";
        if (extra?.Keys.Any(k => k.StartsWith("Inference:Auth:", StringComparison.Ordinal)) != true)
        {
            settings[$"Inference:Auth:ApiKeys:{Client}"] = ApiKey;
        }

        foreach (var (k, v) in extra ?? new Dictionary<string, string?>())
        {
            settings[k] = v;
        }

        return settings;
    }

    /// <summary>Seeds the database first (registry and artifacts, as other services would have), then starts the host.</summary>
    public static async Task<InferenceHost> StartAsync(
        Func<IServiceProvider, Task>? seed = null, IDictionary<string, string?>? extra = null)
    {
        var directory = System.IO.Directory.CreateTempSubdirectory("pipeline-inference-tests-").FullName;
        var settings = Settings(directory, extra);
        if (seed is not null)
        {
            await InProcessStore.SeedAsync(settings, seed);
        }

        var logs = new CapturingLoggerProvider();
        var (app, address) = await TestHost.StartWebAsync(directory, settings, [new InferenceModule(), new RecorderModule()],
            logging => logging.AddProvider(logs), web =>
            {
                web.MapPipelineEndpoints();
                web.MapInferenceEndpoints();
            }, TimeSpan.FromSeconds(20));
        return new InferenceHost(app, directory, logs, address);
    }

    /// <summary>Registers ModelBundle.Create("mlp", seed) as the next version.</summary>
    public static Task<ModelVersionRecord> RegisterAsync(IServiceProvider services, int seed) =>
        InProcessStore.RegisterMlpAsync(services, ModelId, seed);

    public static Task SetProductionAsync(IServiceProvider services, int version) =>
        services.GetRequiredService<IModelRegistry>().SetProductionAsync(ModelId, version, "tests", "test");

    public Task<ModelVersionRecord> RegisterAsync(int seed) => RegisterAsync(Services, seed);

    public Task SetProductionAsync(int version) => SetProductionAsync(Services, version);

    public async Task<ModelVersionRecord> VersionAsync(int version) =>
        (await Services.GetRequiredService<IModelRegistry>().GetVersionAsync(ModelId, version))!;

    /// <summary>Publishes ModelDeployed as the Deployment service would (after moving the alias).</summary>
    public async Task PublishDeployedAsync(int version, int? previous = null, string? sha256 = null)
    {
        var record = await VersionAsync(version);
        await Services.GetRequiredService<IBus>().Publish(new ModelDeployed
        {
            ModelId = ModelId, Version = version, PreviousVersion = previous, ArtifactUri = record.ArtifactUri,
            Sha256 = sha256 ?? record.Sha256, By = "tests", Reason = "test",
        });
    }

    public async Task PublishRolledBackAsync(int version, int previous)
    {
        var record = await VersionAsync(version);
        await Services.GetRequiredService<IBus>().Publish(new ModelRolledBack
        {
            ModelId = ModelId, Version = version, PreviousVersion = previous, ArtifactUri = record.ArtifactUri,
            Sha256 = record.Sha256, By = "tests", Reason = "test rollback",
        });
    }

    /// <summary>Waits until GET /model reports the version.</summary>
    public async Task WaitForVersionAsync(int version, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(15));
        while (Model.Current?.Version != version)
        {
            await Task.Delay(10, cts.Token);
        }

        var status = await Http.GetFromJsonAsync<ModelStatus>("/model", cts.Token);
        Assert.Equal(version, status!.Version);
    }

    /// <summary>
    /// What the registered version predicts for the rows, computed in the test from its artifact.
    /// (Re-creating the model from its seed is not reliable: seeding uses torch's global generator,
    /// which tests running in parallel share.)
    /// </summary>
    public async Task<Prediction[]> ExpectedAsync(int version, float[][] rows)
    {
        var record = await VersionAsync(version);
        var path = await Services.GetRequiredService<IArtifactStore>().GetVerifiedLocalPathAsync(record.ArtifactUri, record.Sha256);
        using var model = ModelBundle.Load(path, TorchSharp.torch.CPU);
        return model.Predict(rows);
    }

    public Task<HttpResponseMessage> PostJsonAsync(string path, string json) => PostJsonAsync(Http, path, json);

    public static Task<HttpResponseMessage> PostJsonAsync(HttpClient http, string path, string json) =>
        http.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));

    /// <summary>A client of this host sending <paramref name="apiKey"/> as X-Api-Key (none when null).</summary>
    public HttpClient ClientWith(string? apiKey)
    {
        var http = new HttpClient { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(60) };
        if (apiKey is not null)
        {
            http.DefaultRequestHeaders.Add("X-Api-Key", apiKey);
        }

        return http;
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        try
        {
            await TestHost.StopAsync([app]);
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            TestHost.DeleteDirectory(Directory);
        }
    }
}
