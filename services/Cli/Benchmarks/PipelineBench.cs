using System.Globalization;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Pipeline.Contracts;
using Pipeline.Hosting;
using Pipeline.Launch;
using Pipeline.ML.Data;
using Pipeline.ML.Training;
using Pipeline.Storage.Artifacts;
using Pipeline.Storage.Repositories;
using Pipeline.Storage;

namespace Pipeline.Cli.Benchmarks;

public sealed record PipelineBenchOptions
{
    public int Runs { get; init; } = 10;

    /// <summary>Labelled production rows sent before each run: the run's adaptation set and holdout (Scoring:MinLabelledRows).</summary>
    public int Rows { get; init; } = 100;

    /// <summary>A run with no message for this long stops the bench.</summary>
    public TimeSpan Stall { get; init; } = TimeSpan.FromSeconds(120);

    public required Uri Broker { get; init; }

    public required string WorkDirectory { get; init; }

    public string? DataDirectory { get; init; }

    public int Seed { get; init; } = 1;

    public string ModelId { get; init; } = "bench";

    /// <summary>The issue's target for the overhead's p95 (seconds).</summary>
    public double TargetSeconds { get; init; } = 0.5;
}

/// <summary>
/// <c>bench pipeline</c>: every service as its own process on RabbitMQ (as <c>demo --distributed</c>), N runs one
/// after another, each started by an operator's StartAdaptation, with the smallest compute (head tuning, two
/// optimizer steps, one candidate, ~100 labelled rows) and a gate set to pass, so that every run reaches deployment.
/// Each hop is timed from the hop stamps the services put on their messages (Pipeline.Hosting.HopStamp).
/// </summary>
public static class PipelineBench
{
    public static async Task<PipelineBenchResult> RunAsync(PipelineBenchOptions o, Action<string> say, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(o);
        ArgumentNullException.ThrowIfNull(say);
        Directory.CreateDirectory(o.WorkDirectory);
        var user = Uri.UnescapeDataString(o.Broker.UserInfo.Split(':')[0]);
        var apiKey = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));
        var storage = new Dictionary<string, string?>
        {
            ["Storage:Provider"] = "Sqlite",
            ["Storage:ConnectionString"] = $"Data Source={Path.Combine(o.WorkDirectory, "pipeline.db")}",
            ["Storage:ArtifactRoot"] = Path.Combine(o.WorkDirectory, "artifacts"),
        };
        var stages = StageSettings(o, user);
        var services = new Dictionary<string, string?>(ServiceProcesses.BrokerSettings(o.Broker).Concat(storage).Concat(stages))
        {
            ["Inference:Auth:ApiKeys:bench"] = apiKey,
        };

        using var splits = FashionMnist.LoadSplits(o.Seed, o.DataDirectory);
        var (model, cached) = BaseTrainer.TrainOrLoad(splits.Train,
            new BaseTrainingOptions { Architecture = "cnn-small", Epochs = 2, TrainSize = 20000, Seed = o.Seed }, cancellationToken: ct);
        using var baseModel = model;
        say(cached ? "base model loaded from cache" : "base model trained");

        say($"starting {ServiceProcesses.Hosts.Count} service processes on {o.Broker.Host}:{o.Broker.Port}{o.Broker.AbsolutePath} (logs in {o.WorkDirectory})");
        var loadAverage = LoadAverage();
        await using var processes = await ServiceProcesses.StartAsync(services, o.WorkDirectory, TimeSpan.FromSeconds(180), ct);
        var events = new PipelineBenchEvents();
        var client = await StartClientAsync(o.Broker, storage, events, ct);
        try
        {
            var runs = await RunAllAsync(o, client.Services, processes, events, splits, baseModel, user, apiKey, say, ct);
            return PipelineHops.Summarise(runs, new PipelineBenchSettings
            {
                LabelledRowsPerRun = o.Rows, LoadAverage = loadAverage,
                Tuning = "head, 1 candidate, 2 optimizer steps (one batch of the whole adaptation set, the tuner's minimum of 2 passes)",
                Gate = "auto; limits that every candidate passes (MinGain -1, MaxForgetting 1, MaxClassDrop 1), 1 latency round",
                ServiceSettings = stages.Where(kv => kv.Value is not null).ToDictionary(kv => kv.Key, kv => kv.Value!),
            }, o.TargetSeconds);
        }
        finally
        {
            await client.StopAsync(TimeSpan.FromSeconds(10));
            client.Dispose();
        }
    }

    private static async Task<List<RunTiming>> RunAllAsync(PipelineBenchOptions o, IServiceProvider client, ServiceProcesses processes,
        PipelineBenchEvents events, FashionMnistSplits splits, ML.Models.ModelBundle baseModel, string user, string apiKey, Action<string> say,
        CancellationToken ct)
    {
        using var http = new HttpClient { BaseAddress = processes.UrlOf("inference"), Timeout = TimeSpan.FromSeconds(60) };
        http.DefaultRequestHeaders.Add("X-Api-Key", apiKey);
        var bus = client.GetRequiredService<IBus>();
        var traffic = new PipelineBenchTraffic(http, bus, client.GetRequiredService<IObservationRepository>(), o.ModelId, user);

        using var reference = splits.Validation.Take(300);
        var version = await traffic.RegisterAsync(baseModel, reference, client.GetRequiredService<IArtifactStore>(), ct);
        say($"registered {o.ModelId} v{version} and put it in production");

        var runs = new List<RunTiming>();
        for (var i = 0; i < o.Runs; i++)
        {
            await traffic.WaitServedAsync(version, TimeSpan.FromSeconds(60), ct);
            using var rows = splits.Test.Slice(i * o.Rows % (splits.Test.Count - o.Rows), o.Rows);
            await traffic.SendLabelledAsync(rows, ct);
            await traffic.WaitLabelledAsync(version, o.Rows, TimeSpan.FromSeconds(60), ct);

            var (run, deployed) = await RunOnceAsync(o, traffic, bus, events, processes, ct);
            runs.Add(run);
            say(string.Create(CultureInfo.InvariantCulture,
                $"run {i + 1}/{o.Runs} ({run.RunId}): v{version} -> v{deployed} in {run.TotalSeconds:F2} s, compute {run.ComputeSeconds:F2} s, overhead {run.OverheadSeconds:F2} s"));
            version = deployed;
        }

        return runs;
    }
    /// <summary>The smallest compute a run can do, and a gate that lets it through: set on every service process.</summary>
    public static Dictionary<string, string?> StageSettings(PipelineBenchOptions o, string user)
    {
        ArgumentNullException.ThrowIfNull(o);
        var rows = o.Rows.ToString(CultureInfo.InvariantCulture);
        return new Dictionary<string, string?>
        {
            ["Logging:LogLevel:Default"] = "Warning",
            ["Roles:Operators:0"] = user, ["Roles:Approvers:0"] = user,
            ["Inference:ModelId"] = o.ModelId,
            // No window closes during the bench: runs come from StartAdaptation only, never from drift.
            ["DriftDetection:WindowSize"] = "1000000",
            ["Scoring:MinLabelledRows"] = rows, ["Scoring:MaxRows"] = rows, ["Scoring:LabelWaitTimeout"] = "00:00:30",
            ["Tuning:Strategy"] = "head", ["Tuning:Candidates"] = "1", ["Tuning:Steps"] = "1", ["Tuning:BatchSize"] = "4096",
            ["Tuning:ProgressEverySteps"] = "1000",
            ["Gate:Mode"] = "Auto", ["Gate:MinGain"] = "-1", ["Gate:MaxForgetting"] = "1", ["Gate:MaxClassDrop"] = "1",
            ["Gate:MaxLatencyIncrease"] = "100", ["Gate:LatencyPairs"] = "2", ["Gate:LatencyBatchSize"] = "16", ["Gate:Precision"] = "0.5",
        };
    }

    private static async Task<(RunTiming Run, int Deployed)> RunOnceAsync(
        PipelineBenchOptions o, PipelineBenchTraffic traffic, IBus bus, PipelineBenchEvents events, ServiceProcesses processes, CancellationToken ct)
    {
        var client = bus.CreateRequestClient<StartAdaptation>(RequestTimeout.After(s: 30));
        Response<CommandAccepted, CommandRefused> answer;
        try
        {
            answer = await client.GetResponse<CommandAccepted, CommandRefused>(
                new StartAdaptation { ModelId = o.ModelId, Reason = "bench pipeline" }, x => x.UseExecute(traffic.AsUser), ct);
        }
        catch (RequestTimeoutException)
        {
            throw new PipelineBenchException($"the adaptation-runs service did not answer StartAdaptation within 30 s; see {processes.LogOf("adaptation-runs")}");
        }

        if (!answer.Is(out Response<CommandAccepted>? accepted))
        {
            throw new PipelineBenchException($"StartAdaptation refused: {(answer.Is(out Response<CommandRefused>? refused) ? refused.Message.Reason : "no reason")}");
        }

        // "run {id} of {model} started" (StartAdaptationConsumer)
        var detail = accepted.Message.Detail;
        if (detail.Split(' ') is not [_, var id, ..] || !Guid.TryParse(id, out var runId))
        {
            throw new PipelineBenchException($"cannot read the run id from the answer to StartAdaptation: '{detail}'");
        }

        var last = (Type: "StartAdaptation", At: DateTime.UtcNow);
        while (true)
        {
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
            wait.CancelAfter(TimeSpan.FromSeconds(1));
            try
            {
                await events.Reader.WaitToReadAsync(wait.Token);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                // no message this second
            }

            while (events.Reader.TryRead(out var e))
            {
                if (e.RunId != runId)
                {
                    continue;
                }

                last = (e.Message.GetType().Name, DateTime.UtcNow);
                switch (e.Message)
                {
                    case AdaptationRunFinished { Outcome: RunOutcome.Deployed, CandidateVersion: { } deployed }:
                        return (PipelineHops.Timeline(runId, events.Hops), deployed);
                    case AdaptationRunFinished f:
                        throw new PipelineBenchException($"run {runId} ended {f.Outcome} in {f.Stage}: {f.Reason}");
                }
            }

            if (processes.Exited() is { } gone)
            {
                throw new PipelineBenchException($"run {runId}: {gone}");
            }

            if (DateTime.UtcNow - last.At > o.Stall)
            {
                throw new PipelineBenchException(
                    $"run {runId} stalled: no message for {o.Stall.TotalSeconds:0} s after {last.Type}; service logs in {o.WorkDirectory}");
            }
        }
    }

    private static async Task<IHost> StartClientAsync(Uri broker, IDictionary<string, string?> storage, PipelineBenchEvents events, CancellationToken ct)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddInMemoryCollection(ServiceProcesses.BrokerSettings(broker).Concat(storage));
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole().SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddServiceStorage(builder.Configuration);
        builder.Services.AddPipelineServices(builder.Configuration, new PipelineBenchObserverModule(events));
        var client = builder.Build();
        try
        {
            await client.StartAsync(ct);
            using var ready = CancellationTokenSource.CreateLinkedTokenSource(ct);
            ready.CancelAfter(TimeSpan.FromSeconds(60));
            await client.Services.GetRequiredService<IBusControl>().WaitForHealthStatus(BusHealthStatus.Healthy, ready.Token);
            return client;
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    private static double? LoadAverage()
    {
        try
        {
            var text = File.ReadAllText("/proc/loadavg").Split(' ')[0];
            return double.Parse(text, CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }
}
