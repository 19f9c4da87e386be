using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Pipeline.Artifacts;
using Pipeline.Contracts;
using Pipeline.Hosting;
using Pipeline.ML.Data;
using Pipeline.ML.Models;
using Pipeline.Storage;
using Pipeline.Storage.Artifacts;
using Pipeline.Storage.Repositories;

namespace Pipeline.Cli.Benchmarks;

/// <summary>
/// The set-up of <c>bench load</c> before its clock starts: the broker checked, the settings every process shares
/// and Inference's, the bench's own bus client, and the models registered, served and profiled.
/// </summary>
internal static class LoadBenchmarkSetup
{
    private const string ClientId = "bench";

    /// <summary>Fails in a second, in one line, when the broker cannot be reached (rather than after the services' start timeout).</summary>
    public static async Task CheckBrokerAsync(Uri broker, CancellationToken ct)
    {
        using var within = CancellationTokenSource.CreateLinkedTokenSource(ct);
        within.CancelAfter(TimeSpan.FromSeconds(30));
        try
        {
            await using var connection = await new RabbitMQ.Client.ConnectionFactory { Uri = broker, ClientProvidedName = "bench-load-check" }
                .CreateConnectionAsync(within.Token);
        }
        catch (RabbitMQ.Client.Exceptions.BrokerUnreachableException ex)
        {
            throw new UserErrorException(
                $"cannot reach RabbitMQ at {broker.Host}:{broker.Port}{broker.AbsolutePath} ({ex.InnerException?.Message ?? ex.Message}); ./pipeline bench load starts the local node");
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new UserErrorException($"RabbitMQ at {broker.Host}:{broker.Port}{broker.AbsolutePath} did not complete a connection within 30 s (overloaded or hung?)");
        }
    }

    public static string Str(long v) => v.ToString(CultureInfo.InvariantCulture);

    public static Dictionary<string, string?> With(IReadOnlyDictionary<string, string?> settings, params (string Key, string? Value)[] extra)
    {
        var all = new Dictionary<string, string?>(settings);
        foreach (var (k, v) in extra)
        {
            all[k] = v;
        }

        return all;
    }

    /// <summary>What every process shares: the broker's virtual host, one database and artifact folder, queue names of this run.</summary>
    public static Dictionary<string, string?> Settings(LoadBenchmarkOptions o)
    {
        var b = o.Broker;
        var info = b.UserInfo.Split(':', 2);
        return new Dictionary<string, string?>
        {
            ["Messaging:Transport"] = "RabbitMq", ["Messaging:Host"] = b.Host, ["Messaging:Port"] = Str(b.Port),
            ["Messaging:VirtualHost"] = b.AbsolutePath.Trim('/') is { Length: > 0 } v ? Uri.UnescapeDataString(v) : "/",
            ["Messaging:Username"] = info[0].Length > 0 ? Uri.UnescapeDataString(info[0]) : "guest",
            ["Messaging:Password"] = info.Length > 1 ? Uri.UnescapeDataString(info[1]) : "guest",
            ["Messaging:EndpointPrefix"] = "bl" + Guid.NewGuid().ToString("N")[..8],
            // The bench registers its models as this user (registration is an approver's decision with --deploy).
            ["Roles:Approvers:0"] = info[0].Length > 0 ? Uri.UnescapeDataString(info[0]) : "guest",
            ["Storage:Provider"] = "Sqlite",
            ["Storage:ConnectionString"] = $"Data Source={Path.Combine(Path.GetFullPath(o.WorkDirectory), "pipeline.db")}",
            ["Storage:ArtifactRoot"] = Path.Combine(Path.GetFullPath(o.WorkDirectory), "artifacts"),
        };
    }

    /// <summary>
    /// The bench is one client with a key. Its per-client request rate and storage quota are raised to twice what the
    /// load needs, so that what is measured is the pipeline, not the limit a production client would be given.
    /// </summary>
    public static (string, string?)[] InferenceSettings(LoadBenchmarkOptions o, string defaultModel, string apiKey)
    {
        var requestsPerSecond = Math.Max(50, (int)Math.Ceiling(2.0 * o.Rate / o.Batch));
        var rows = (long)o.RowsPerModel * o.Models;
        return
        [
            ("Inference:ModelId", defaultModel), ($"Inference:Auth:ApiKeys:{ClientId}", apiKey),
            ("Inference:Limits:RequestsPerSecond", Str(requestsPerSecond)), ("Inference:Limits:Burst", Str(2 * requestsPerSecond)),
            ("Inference:Limits:MaxStoredRows", Str(Math.Max(1_000_000, 2 * rows))), ("Inference:MicroBatchMaxRows", Str(o.MicroBatchRows)),
            ("Inference:TorchThreads", Str(o.TorchThreads)),
            ("Inference:Limits:MaxStoredBytes", Str(Math.Max(4L << 30, 2 * rows * FashionMnist.ImageLength * sizeof(float)))),
        ];
    }

    public static async Task<IHost> StartClientAsync(IReadOnlyDictionary<string, string?> settings, WindowRecorder recorder, CancellationToken ct)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole().SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddServiceStorage(builder.Configuration);
        builder.Services.AddPipelineServices(builder.Configuration, new WindowRecorderModule(recorder));
        var host = builder.Build();
        await host.StartAsync(ct);
        using var ready = CancellationTokenSource.CreateLinkedTokenSource(ct);
        ready.CancelAfter(TimeSpan.FromSeconds(120));
        try
        {
            await host.Services.GetRequiredService<IBusControl>().WaitForHealthStatus(BusHealthStatus.Healthy, ready.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            host.Dispose();
            throw new TimeoutException("the bench's own bus connection was not ready within 120 s (is the broker overloaded?)");
        }

        return host;
    }

    /// <summary>
    /// Each model as a user registers one (ctl models register): file and labelled reference rows into the shared
    /// artifact store, RegisterModel with Deploy over the bus to the registry's owner; then waits until inference
    /// serves it and DriftDetection has stored its reference profile, so the clock starts on a warm pipeline.
    /// </summary>
    public static async Task RegisterAsync(IServiceProvider sp, HttpClient http, ModelBundle model, FashionMnistSplits splits,
        IReadOnlyList<string> modelIds, Action<string> log, CancellationToken ct)
    {
        var store = sp.GetRequiredService<IArtifactStore>();
        var drift = sp.GetRequiredService<IDriftRepository>();
        var user = sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<MessagingOptions>>().Value.Username;
        var modelRef = await store.PutWrittenAsync(model.Save, "uploads", $"{user}/bench-load/base.model", ct);

        using var reference = splits.Validation.Take(3000);
        var dataRef = await store.PutAsync(DatasetArtifacts.FromDataset(reference).ToBytes(), "uploads", $"{user}/bench-load/reference.pfb", ct);
        var requests = sp.GetRequiredService<IBus>().CreateRequestClient<RegisterModel>(RequestTimeout.After(s: 120));
        foreach (var id in modelIds)
        {
            var response = await requests.GetResponse<ModelVersionRegistered>(new RegisterModel
            {
                ModelId = id, Deploy = true, Reason = "bench load",
                ModelFile = modelRef.ToPayload(),
                ReferenceData = dataRef.ToPayload(),
            }, x => x.UseExecute(c =>
            {
                if (c.TryGetPayload<RabbitMqSendContext>(out var amqp))
                {
                    amqp.BasicProperties.UserId = user;
                }
            }), ct);
            var version = response.Message.Version;
            var until = DateTime.UtcNow.AddSeconds(120);
            while (!await ServedAsync(http, id, version, ct) || await drift.GetReferenceProfileAsync(id, version, ct) is null)
            {
                if (DateTime.UtcNow > until)
                {
                    throw new TimeoutException($"{id} v{version} was not served with a drift profile within 120 s (see the services' logs)");
                }

                await Task.Delay(200, ct);
            }

            log($"registered {id} v{version}: served, drift profile stored");
        }
    }

    private static async Task<bool> ServedAsync(HttpClient http, string id, int version, CancellationToken ct)
    {
        using var response = await http.GetAsync(new Uri($"/models/{id}", UriKind.Relative), ct);
        return response.IsSuccessStatusCode
            && (await response.Content.ReadFromJsonAsync<JsonElement>(ct)).TryGetProperty("version", out var v) && v.GetInt32() >= version;
    }
}
