using System.Diagnostics;
using System.Security.Cryptography;
using Microsoft.Extensions.Hosting;
using Pipeline.ML.Data;
using Pipeline.ML.Models;
using Pipeline.ML.Training;

namespace Pipeline.Cli.Benchmarks;

/// <summary>
/// <c>bench load</c>: Deployment, Inference and DriftDetection as their own host processes on one RabbitMQ virtual host,
/// one SQLite database and one artifact folder (as <c>demo --distributed</c> runs them); M copies of the demo's
/// Fashion-MNIST model registered over the bus and deployed; R rows/s of real test images in batches of B through
/// the HTTP API for N seconds; every DriftWindowEvaluated heard; then the tail, the services' metrics, and the bare
/// broker's ceiling on the same rows. This is the driver: the set-up is <see cref="LoadBenchmarkSetup"/>, the side
/// measurements <see cref="LoadMeasurement"/>, the analysis into the result <see cref="LoadReport"/>.
/// </summary>
public static class LoadBenchmark
{
    public static async Task<LoadBenchmarkResult> RunAsync(LoadBenchmarkOptions o, Action<string> log, CancellationToken ct)
    {
        await LoadBenchmarkSetup.CheckBrokerAsync(o.Broker, ct);
        Directory.CreateDirectory(o.WorkDirectory);
        log($"work folder {o.WorkDirectory}");
        using var splits = FashionMnist.LoadSplits(o.Seed, o.DataDirectory);
        var (model, cached) = BaseTrainer.TrainOrLoad(splits.Train,
            new BaseTrainingOptions { Architecture = "cnn-small", Epochs = 2, TrainSize = 20000, Seed = o.Seed }, o.CacheDirectory, null, ct);
        using var baseModel = model;
        log(cached ? "demo model (cnn-small) loaded from cache" : "demo model (cnn-small) trained");
        var images = splits.Test.ToFeatureVectors();

        var settings = LoadBenchmarkSetup.Settings(o);
        var apiKey = Convert.ToHexString(RandomNumberGenerator.GetBytes(16)).ToLowerInvariant();
        var modelIds = Enumerable.Range(1, o.Models).Select(i => $"bench-load-{i}").ToList();
        await using var services = new LoadServiceHosts(o.WorkDirectory);
        services.Start("deployment", "Deployment", settings);
        services.Start("drift-detection", "DriftDetection", LoadBenchmarkSetup.With(settings, ("DriftDetection:WindowSize", LoadBenchmarkSetup.Str(o.WindowRows))));
        services.Start("inference", "Inference", LoadBenchmarkSetup.With(settings, LoadBenchmarkSetup.InferenceSettings(o, modelIds[0], apiKey)));
        await services.WaitReadyAsync(TimeSpan.FromSeconds(180), ct);
        log("deployment, drift-detection and inference ready (" + string.Join(", ", services.All.Select(s => $"{s.Name} pid {s.Process.Id}")) + ")");

        var recorder = new WindowRecorder();
        using var client = await LoadBenchmarkSetup.StartClientAsync(settings, recorder, ct);
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = LoadTraffic.MaxInFlight })
        {
            BaseAddress = services["inference"].Url, Timeout = TimeSpan.FromSeconds(60),
        };
        http.DefaultRequestHeaders.Add("X-Api-Key", apiKey);
        await LoadBenchmarkSetup.RegisterAsync(client.Services, http, baseModel, splits, modelIds, log, ct);

        // Warm-up: one window per model through the same path (first forward passes, monitors and embedders loaded),
        // waited for, then left out of every figure: only the timed batches' ids are counted.
        var warm = await new LoadTraffic(http, modelIds, images, o.Protocol).RunAsync(LoadMath.Plan(o.WindowRows, o.Batch, o.Models, o.Rate), null, ct);
        if (warm.FirstOrDefault(s => s.BatchId is null) is { } refused)
        {
            throw new InvalidOperationException($"a warm-up request failed ({refused.Status}): {refused.Error}; see {services["inference"].Log}");
        }

        if ((await LoadMeasurement.TailAsync(recorder, warm, o.Tail, ct)).TimedOut)
        {
            throw new TimeoutException($"the warm-up windows were not evaluated (no DriftWindowEvaluated for {o.Tail.TotalSeconds:F0} s); see {services["drift-detection"].Log}");
        }

        log($"warm-up: {warm.Sum(w => w.Rows):N0} rows, one window per model, evaluated");
        var forwardMs = LoadMeasurement.BareForward(baseModel, images, o.Batch);
        log($"bare forward of {o.Batch} rows: {forwardMs:F2} ms (median of 20)");

        var plan = LoadMath.Plan(o.RowsPerModel, o.Batch, o.Models, o.Rate);
        var loadBefore = LoadMeasurement.LoadAverage();
        var cpuBefore = LoadMeasurement.Cpu(services);
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

        var (tailSeconds, timedOut) = await LoadMeasurement.TailAsync(recorder, sent, o.Tail, ct, openWindowRows);
        var cpuAfter = LoadMeasurement.Cpu(services);
        var memoryMb = await memory.StopAsync();
        var loadAfter = LoadMeasurement.LoadAverage();
        var inferenceMetrics = await services.MetricsAsync("inference", ct);
        var driftMetrics = await services.MetricsAsync("drift-detection", ct);
        // The raw scrapes stay in the work folder beside the logs, for what the report does not summarise (histogram buckets).
        foreach (var (name, text) in new[] { ("inference-before", inferenceBefore), ("inference-after", inferenceMetrics), ("drift-detection-before", driftBefore), ("drift-detection-after", driftMetrics) })
        {
            await File.WriteAllTextAsync(Path.Combine(o.WorkDirectory, name + ".metrics.txt"), text ?? "", ct);
        }

        log($"tail {tailSeconds:F1} s{(timedOut ? " (bound reached)" : "")}; measuring the broker's ceiling");
        var ceiling = await BrokerCeiling.MeasureAsync(o.Broker, plan, images, TimeSpan.FromSeconds(Math.Clamp(o.Seconds, 3, 10)), ct);
        await client.StopAsync(TimeSpan.FromSeconds(10));

        return LoadReport.Build(new LoadRunFigures
        {
            Options = o, SendSeconds = sendSeconds, Sent = sent, Windows = recorder.Windows.Select(w => w.Window).ToList(),
            RejectedRows = rejectedRows, UnsentRows = unsentRows, OpenWindowRows = openWindowRows, ForwardMs = forwardMs,
            TailSeconds = tailSeconds, TailTimedOut = timedOut, Ceiling = ceiling,
            InferenceMetricsBefore = inferenceBefore, InferenceMetricsAfter = inferenceMetrics, DriftMetricsBefore = driftBefore, DriftMetricsAfter = driftMetrics,
            CpuBefore = cpuBefore, CpuAfter = cpuAfter, MemoryMb = memoryMb, LoadAverageBefore = loadBefore, LoadAverageAfter = loadAfter,
            Device = ComputeDevice.Describe(baseModel.Device),
        });
    }
}
