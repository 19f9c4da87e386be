using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Pipeline.Adaptation;
using Pipeline.Contracts;
using Pipeline.Hosting;
using Pipeline.ML.Data;
using Pipeline.ML.Models;
using Pipeline.ML.Training;
using Pipeline.Storage.Artifacts;
using Pipeline.Storage.Repositories;

namespace Pipeline.Cli.Benchmarks;

/// <summary>
/// <c>bench load</c>: Deployment, Inference and DriftDetection as their own host processes on one RabbitMQ virtual host,
/// one SQLite database and one artifact folder (as <c>demo --distributed</c> runs them); M copies of the demo's
/// Fashion-MNIST model registered over the bus and deployed; R rows/s of real test images in batches of B through
/// the HTTP API for N seconds; every DriftWindowEvaluated heard; then the tail, the services' metrics, and the bare
/// broker's ceiling on the same rows.
/// </summary>
public static class LoadBenchmark
{
    private const string ClientId = "bench";

    public static async Task<LoadBenchmarkResult> RunAsync(LoadBenchmarkOptions o, Action<string> log, CancellationToken ct)
    {
        await CheckBrokerAsync(o.Broker, ct);
        Directory.CreateDirectory(o.WorkDirectory);
        log($"work folder {o.WorkDirectory}");
        using var splits = FashionMnist.LoadSplits(o.Seed, o.DataDirectory);
        var (model, cached) = BaseTrainer.TrainOrLoad(splits.Train,
            new BaseTrainingOptions { Architecture = "cnn-small", Epochs = 2, TrainSize = 20000, Seed = o.Seed }, o.CacheDirectory, null, ct);
        using var baseModel = model;
        log(cached ? "demo model (cnn-small) loaded from cache" : "demo model (cnn-small) trained");
        var images = splits.Test.ToFeatureVectors();

        var settings = Settings(o);
        var apiKey = Convert.ToHexString(RandomNumberGenerator.GetBytes(16)).ToLowerInvariant();
        var modelIds = Enumerable.Range(1, o.Models).Select(i => $"bench-load-{i}").ToList();
        await using var services = new LoadServiceHosts(o.WorkDirectory);
        services.Start("deployment", "Deployment", settings);
        services.Start("drift-detection", "DriftDetection", With(settings, ("DriftDetection:WindowSize", Str(o.WindowRows))));
        services.Start("inference", "Inference", With(settings, InferenceSettings(o, modelIds[0], apiKey)));
        await services.WaitReadyAsync(TimeSpan.FromSeconds(180), ct);
        log("deployment, drift-detection and inference ready (" + string.Join(", ", services.All.Select(s => $"{s.Name} pid {s.Process.Id}")) + ")");

        var recorder = new WindowRecorder();
        using var client = await StartClientAsync(settings, recorder, ct);
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = LoadTraffic.MaxInFlight })
        {
            BaseAddress = services["inference"].Url, Timeout = TimeSpan.FromSeconds(60),
        };
        http.DefaultRequestHeaders.Add("X-Api-Key", apiKey);
        await RegisterAsync(client.Services, http, baseModel, splits, modelIds, log, ct);

        // Warm-up: one window per model through the same path (first forward passes, monitors and embedders loaded),
        // waited for, then left out of every figure: only the timed batches' ids are counted.
        var warm = await new LoadTraffic(http, modelIds, images, o.Protocol).RunAsync(LoadMath.Plan(o.WindowRows, o.Batch, o.Models, o.Rate), null, ct);
        if (warm.FirstOrDefault(s => s.BatchId is null) is { } refused)
        {
            throw new InvalidOperationException($"a warm-up request failed ({refused.Status}): {refused.Error}; see {services["inference"].Log}");
        }

        if ((await TailAsync(recorder, warm, o.Tail, ct)).TimedOut)
        {
            throw new TimeoutException($"the warm-up windows were not evaluated (no DriftWindowEvaluated for {o.Tail.TotalSeconds:F0} s); see {services["drift-detection"].Log}");
        }

        log($"warm-up: {warm.Sum(w => w.Rows):N0} rows, one window per model, evaluated");
        var forwardMs = BareForward(baseModel, images, o.Batch);
        log($"bare forward of {o.Batch} rows: {forwardMs:F2} ms (median of 20)");

        var plan = LoadMath.Plan(o.RowsPerModel, o.Batch, o.Models, o.Rate);
        var loadBefore = LoadAverage();
        var cpuBefore = Cpu(services);
        await using var memory = new LoadMemorySampler(services.All);
        var inferenceBefore = await services.MetricsAsync("inference", ct);
        var driftBefore = await services.MetricsAsync("drift-detection", ct);
        log($"traffic: {plan.Sum(p => p.Rows):N0} rows in {plan.Count:N0} requests at {o.Rate:N0} rows/s over {o.Models} model(s)");
        var clock = Stopwatch.StartNew();
        var sent = await new LoadTraffic(http, modelIds, images, o.Protocol).RunAsync(plan, null, ct, TimeSpan.FromSeconds(o.Seconds));
        var sendSeconds = clock.Elapsed.TotalSeconds;
        var rowsIn = sent.Where(s => s.BatchId is not null).Sum(s => (long)s.Rows);
        var rejectedRows = sent.Where(s => s.Status is 429 or 503).Sum(s => (long)s.Rows);
        var unsentRows = plan.Sum(p => (long)p.Rows) - sent.Sum(s => (long)s.Rows);
        var openWindowRows = sent.Where(s => s.BatchId is not null).GroupBy(s => s.Model).Sum(g => g.Sum(s => (long)s.Rows) % o.WindowRows);
        log($"sent in {sendSeconds:F1} s ({o.Protocol}): {rowsIn:N0} rows accepted, {rejectedRows:N0} refused with 429/503, " +
            $"{sent.Count(s => s.BatchId is null)} requests failed, {unsentRows:N0} rows not sent by the deadline");

        var (tailSeconds, timedOut) = await TailAsync(recorder, sent, o.Tail, ct, openWindowRows);
        var cpuAfter = Cpu(services);
        var memoryMb = await memory.StopAsync();
        var loadAfter = LoadAverage();
        var inferenceMetrics = await services.MetricsAsync("inference", ct);
        var driftMetrics = await services.MetricsAsync("drift-detection", ct);
        log($"tail {tailSeconds:F1} s{(timedOut ? " (bound reached)" : "")}; measuring the broker's ceiling");
        var ceiling = await BrokerCeiling.MeasureAsync(o.Broker, plan, images, TimeSpan.FromSeconds(Math.Clamp(o.Seconds, 3, 10)), ct);
        await client.StopAsync(TimeSpan.FromSeconds(10));

        var outcome = LoadAnalysis.Analyse(sent, recorder.Windows.Select(w => w.Window).ToList());
        var serverMean = LoadAnalysis.HistogramMeanMs(inferenceBefore, inferenceMetrics, "inference_request_duration_seconds", "endpoint=\"predict\",code=\"200\"");
        var ratio = ceiling.RowsPerSecond > 0 ? outcome.RowsPerSecond / ceiling.RowsPerSecond : 0;
        var modelBound = forwardMs > 0 ? o.Batch * 1000.0 / forwardMs : 0;
        return new LoadBenchmarkResult
        {
            Seconds = Math.Round(sendSeconds, 3), Protocol = o.Protocol.ToString().ToLowerInvariant(), RowsIn = outcome.RowsIn, RowsOut = outcome.RowsOut,
            RejectedRows = rejectedRows, UnsentRows = unsentRows, OpenWindowRows = openWindowRows, ModelBoundRowsPerSecond = Math.Round(modelBound, 1),
            RowsPerSecond = Math.Round(outcome.RowsPerSecond, 1), CeilingRowsPerSecond = Math.Round(ceiling.RowsPerSecond, 1),
            P50Ms = R(outcome.P50Ms), P99Ms = R(outcome.P99Ms), MaxLagRows = outcome.MaxLagRows,
            PredictP50Ms = R(outcome.PredictP50Ms), PredictP99Ms = R(outcome.PredictP99Ms),
            Settings = new LoadSettings
            {
                Rate = o.Rate, Batch = o.Batch, Models = o.Models, WindowRows = o.WindowRows, RowsPerModel = o.RowsPerModel,
                Services = "processes", MaxInFlight = LoadTraffic.MaxInFlight, MicroBatchRows = o.MicroBatchRows,
            },
            Targets = new LoadTargets
            {
                RowsOutEqualsRowsIn = outcome.RowsOut + openWindowRows == outcome.RowsIn && outcome.RowsDuplicated == 0 && outcome.RowsIn > 0,
                ThroughputToModelBound = modelBound > 0 ? Math.Round(outcome.RowsPerSecond / modelBound, 4) : 0,
                ThroughputToCeiling = Math.Round(ratio, 4), AtLeastHalfTheCeiling = ratio >= 0.5,
            },
            Counts = new LoadCounts
            {
                Requests = outcome.Requests, FailedRequests = outcome.FailedRequests, FirstFailure = outcome.FirstFailure, Windows = outcome.Windows,
                RowsDuplicated = outcome.RowsDuplicated, BatchesIncomplete = outcome.BatchesIncomplete, TailSeconds = Math.Round(tailSeconds, 2), TailTimedOut = timedOut,
            },
            Stages = new LoadStages
            {
                PredictClientMeanMs = R(outcome.PredictMeanMs), PredictServerMeanMs = R(serverMean), ForwardP50Ms = Math.Round(forwardMs, 3),
                PredictToForward = outcome.PredictP50Ms is { } p && forwardMs > 0 ? Math.Round(p / forwardMs, 2) : null,
                PredictServerOverheadMeanMs = R(serverMean - forwardMs),
                DriftConsumeMeanMs = R(LoadAnalysis.HistogramMeanMs(driftBefore, driftMetrics, "pipeline_consume_duration_seconds", "message_type=\"ObservationsIngested\"")),
                WindowFillP50Ms = R(outcome.WindowFillP50Ms), WindowFillP99Ms = R(outcome.WindowFillP99Ms),
                WindowCloseP50Ms = R(outcome.WindowCloseP50Ms), WindowCloseP99Ms = R(outcome.WindowCloseP99Ms),
                CpuSeconds = cpuAfter.ToDictionary(kv => kv.Key, kv => kv.Value - cpuBefore.GetValueOrDefault(kv.Key) is { } d ? Math.Round(d, 2) : (double?)null),
                MemoryMb = memoryMb,
            },
            Ceiling = ceiling with { RowsPerSecond = Math.Round(ceiling.RowsPerSecond, 1), Seconds = Math.Round(ceiling.Seconds, 3) },
            Machine = new LoadMachine
            {
                MachineName = Environment.MachineName, ProcessorCount = Environment.ProcessorCount, LoadAverageBefore = loadBefore, LoadAverageAfter = loadAfter,
                Os = RuntimeInformation.OSDescription, Runtime = RuntimeInformation.FrameworkDescription,
                Device = ComputeDevice.Describe(baseModel.Device), Broker = $"{o.Broker.Host}:{o.Broker.Port}{o.Broker.AbsolutePath}",
            },
        };
    }

    /// <summary>Fails in a second, in one line, when the broker cannot be reached (rather than after the services' start timeout).</summary>
    private static async Task CheckBrokerAsync(Uri broker, CancellationToken ct)
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

    private static double? R(double? v) => v is { } x ? Math.Round(x, 2) : null;

    private static string Str(long v) => v.ToString(CultureInfo.InvariantCulture);

    private static Dictionary<string, string?> With(IReadOnlyDictionary<string, string?> settings, params (string Key, string? Value)[] extra)
    {
        var all = new Dictionary<string, string?>(settings);
        foreach (var (k, v) in extra)
        {
            all[k] = v;
        }

        return all;
    }

    /// <summary>What every process shares: the broker's virtual host, one database and artifact folder, queue names of this run.</summary>
    private static Dictionary<string, string?> Settings(LoadBenchmarkOptions o)
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
    private static (string, string?)[] InferenceSettings(LoadBenchmarkOptions o, string defaultModel, string apiKey)
    {
        var requestsPerSecond = Math.Max(50, (int)Math.Ceiling(2.0 * o.Rate / o.Batch));
        var rows = (long)o.RowsPerModel * o.Models;
        return
        [
            ("Inference:ModelId", defaultModel), ($"Inference:Auth:ApiKeys:{ClientId}", apiKey),
            ("Inference:Limits:RequestsPerSecond", Str(requestsPerSecond)), ("Inference:Limits:Burst", Str(2 * requestsPerSecond)),
            ("Inference:Limits:MaxStoredRows", Str(Math.Max(1_000_000, 2 * rows))), ("Inference:MicroBatchMaxRows", Str(o.MicroBatchRows)),
            ("Inference:Limits:MaxStoredBytes", Str(Math.Max(4L << 30, 2 * rows * FashionMnist.ImageLength * sizeof(float)))),
        ];
    }

    private static async Task<IHost> StartClientAsync(IReadOnlyDictionary<string, string?> settings, WindowRecorder recorder, CancellationToken ct)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole().SetMinimumLevel(LogLevel.Warning);
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
    private static async Task RegisterAsync(IServiceProvider sp, HttpClient http, ModelBundle model, FashionMnistSplits splits,
        IReadOnlyList<string> modelIds, Action<string> log, CancellationToken ct)
    {
        var store = sp.GetRequiredService<IArtifactStore>();
        var drift = sp.GetRequiredService<IDriftRepository>();
        var user = sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<MessagingOptions>>().Value.Username;
        var file = Path.Combine(Path.GetTempPath(), $"bench-load-{Guid.NewGuid():N}.model");
        ArtifactRef modelRef;
        try
        {
            model.Save(file);
            await using var stream = File.OpenRead(file);
            modelRef = await store.PutAsync(stream, "uploads", $"{user}/bench-load/base.model", ct);
        }
        finally
        {
            File.Delete(file);
        }

        using var reference = splits.Validation.Take(3000);
        var dataRef = await store.PutAsync(DatasetArtifacts.FromDataset(reference).ToBytes(), "uploads", $"{user}/bench-load/reference.pfb", ct);
        var requests = sp.GetRequiredService<IBus>().CreateRequestClient<RegisterModel>(RequestTimeout.After(s: 120));
        foreach (var id in modelIds)
        {
            var response = await requests.GetResponse<ModelVersionRegistered>(new RegisterModel
            {
                ModelId = id, Deploy = true, Reason = "bench load",
                ModelFile = new PayloadRef { Uri = modelRef.Uri, Sha256 = modelRef.Sha256, SizeBytes = modelRef.Size },
                ReferenceData = new PayloadRef { Uri = dataRef.Uri, Sha256 = dataRef.Sha256, SizeBytes = dataRef.Size },
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

    /// <summary>The model's forward pass on one batch, as the API calls it (ModelBundle.Predict), median of 20 after 3 warm-ups.</summary>
    private static double BareForward(ModelBundle model, float[][] images, int batch)
    {
        var rows = Enumerable.Range(0, batch).Select(i => images[i % images.Length]).ToArray();
        for (var i = 0; i < 3; i++)
        {
            model.Predict(rows, 512);
        }

        var times = new List<double>();
        for (var i = 0; i < 20; i++)
        {
            var start = Stopwatch.GetTimestamp();
            model.Predict(rows, 512);
            times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }

        return LoadMath.Percentile(times, 0.5)!.Value;
    }

    /// <summary>
    /// Waits until every accepted row is in a window, or no new window arrived for <paramref name="bound"/>, or ten
    /// bounds passed in all (a backlog that drains too slowly ends the run too; the rows left out say so).
    /// </summary>
    private static async Task<(double Seconds, bool TimedOut)> TailAsync(
        WindowRecorder recorder, IReadOnlyList<SentBatch> sent, TimeSpan bound, CancellationToken ct, long openWindowRows = 0)
    {
        var ids = sent.Where(s => s.BatchId is not null).Select(s => s.BatchId!.Value).ToHashSet();
        var rowsIn = sent.Where(s => s.BatchId is not null).Sum(s => (long)s.Rows) - openWindowRows;
        var clock = Stopwatch.StartNew();
        var lastProgress = clock.Elapsed;
        long last = -1;
        while (true)
        {
            var rows = recorder.Windows.SelectMany(w => w.Window.Batches).Where(b => ids.Contains(b.BatchId)).Sum(b => (long)b.Rows);
            if (rows >= rowsIn)
            {
                return (clock.Elapsed.TotalSeconds, false);
            }

            if (rows != last)
            {
                (last, lastProgress) = (rows, clock.Elapsed);
            }
            else if (clock.Elapsed - lastProgress > bound || clock.Elapsed > 10 * bound)
            {
                return (clock.Elapsed.TotalSeconds, true);
            }

            await Task.Delay(100, ct);
        }
    }

    private static Dictionary<string, double?> Cpu(LoadServiceHosts services)
    {
        var cpu = services.All.ToDictionary(s => s.Name, s => LoadServiceHosts.CpuSeconds(s.Process));
        using var self = Process.GetCurrentProcess();
        cpu["bench"] = LoadServiceHosts.CpuSeconds(self);
        return cpu;
    }

    private static string? LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }
}
