using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Trace;
using Microsoft.Extensions.Hosting;
using Pipeline.Artifacts;
using Pipeline.Contracts;
using Pipeline.Deployment;
using Pipeline.DriftDetection;
using Pipeline.EvaluationGate;
using Pipeline.SensitivityScoring;
using Pipeline.SparseTuning;
using Pipeline.Storage.Artifacts;
using Pipeline.Storage.Repositories;

namespace Pipeline.Integration.Tests;

/// <summary>
/// The run owner and the five services as separate hosts on the real RabbitMQ (one bus connection each), sharing a
/// SQLite database and an artifact folder, plus an observer host that logs every event. Small
/// windows and budgets keep a full run to seconds.
/// </summary>
public abstract class PipelineWorld : IAsyncLifetime
{
    private readonly ServiceHosts hosts;
    private readonly EventLogModule events = new();
    private IHost? drift;

    protected PipelineWorld(string name) => hosts = new ServiceHosts(name);

    protected abstract IDictionary<string, string?> GateSettings { get; }

    public EventLog Events => events.Log;

    /// <summary>The queue of a consumer in this world's hosts.</summary>
    public string Queue<TConsumer>()
        where TConsumer : class, IConsumer =>
        new KebabCaseEndpointNameFormatter(hosts.Prefix, includeNamespace: true).Consumer<TConsumer>();

    public IServiceProvider Services => drift!.Services;

    /// <summary>Publishes what Inference would (guest: the drift host's own user may not).</summary>
    public IBus Publisher { get; private set; } = null!;

    /// <summary>
    /// Every span of every host in this process, as the OpenTelemetry SDK of the hosting defaults
    /// exports them (one in-memory exporter sees them all: the hosts share the process).
    /// </summary>
    public List<System.Diagnostics.Activity> Spans { get; } = [];

    public async Task InitializeAsync()
    {
        var settings = new Dictionary<string, string?>(GateSettings)
        {
            ["DriftDetection:WindowSize"] = "100",
            ["DriftDetection:ConsecutiveWindowsToRaise"] = "1",
            ["DriftDetection:Cooldown"] = "00:00:00",
            ["DriftDetection:MmdPermutations"] = "50",
            ["DriftDetection:MaxReferenceRows"] = "300",
            // These flows are about the adaptation once drift is raised; whether a drift hurts (and when the label-free
            // estimators ask for labels first) is DriftHarmTests' subject.
            ["DriftDetection:RequireHarm"] = "false",
            ["Scoring:MinLabelledRows"] = "150",
            ["Scoring:MaxRows"] = "400",
            ["Scoring:LabelWaitTimeout"] = "00:00:30",
            ["Scoring:LabelPollInterval"] = "00:00:00.200",
            ["Tuning:Steps"] = "10",
            ["Tuning:BatchSize"] = "32",
            ["Tuning:ProgressEverySteps"] = "5",
            ["Tuning:Device"] = "cpu",
            ["Gate:Device"] = "cpu",
            // Tiny holdouts keep these tests fast; the precision rule itself is covered by GatePolicyTests.
            ["Gate:Precision"] = "0.5",
        };
        await hosts.StartAsync([new AdaptationRuns.AdaptationRunsModule()], settings);
        drift = await hosts.StartAsync([new DriftDetectionModule()], settings);
        await hosts.StartAsync([new SensitivityScoringModule()], settings);
        await hosts.StartAsync([new SparseTuningModule()], settings);
        await hosts.StartAsync([new EvaluationGateModule()], settings);
        await hosts.StartAsync([new DeploymentModule()], settings);
        await hosts.StartAsync([events], settings, s => s.AddOpenTelemetry().WithTracing(t => t.AddInMemoryExporter(Spans)));
        Publisher = await hosts.PublisherAsync();
        await StartMoreAsync(hosts, settings);
    }

    /// <summary>Hosts a world adds beside the five services (started last).</summary>
    private protected virtual Task StartMoreAsync(ServiceHosts hosts, IDictionary<string, string?> settings) => Task.CompletedTask;

    public Task DisposeAsync() => hosts.DisposeAsync().AsTask();

    public T Get<T>()
        where T : notnull => Services.GetRequiredService<T>();

    /// <summary>Production traffic as the inference service reports it: features in the artifact store, then ObservationsIngested.</summary>
    public async Task IngestAsync(string modelId, int version, FeatureBlob rows, int batchRows = 100)
    {
        var datasets = new DatasetArtifacts(Get<IArtifactStore>());
        var bus = Publisher;
        for (var start = 0; start < rows.Rows; start += batchRows)
        {
            var (_, rest) = rows.Split(start);
            var (batch, _) = rest.Split(batchRows);
            var batchId = Guid.NewGuid();
            var payload = await datasets.SaveAsync(batch, "observations", $"{modelId}/{batchId}.pfb", CancellationToken.None);
            await bus.Publish(new ObservationsIngested
            {
                ModelId = modelId, ModelVersion = version, BatchId = batchId, Features = payload, Count = batch.Rows,
                FeatureCount = batch.Columns, Predictions = new int[batch.Rows], Confidences = Enumerable.Repeat(0.5f, batch.Rows).ToArray(),
                Labels = batch.Labels,
            });
        }
    }

    public Task<ModelVersionRecord> SeedBaseAsync(string modelId) => Seed.BaseModelAsync(Services, modelId);
}

public sealed class AutoWorld() : PipelineWorld("auto")
{
    protected override IDictionary<string, string?> GateSettings => new Dictionary<string, string?>
    {
        // The flow is under test here, not the policy (GatePolicyTests cover decisions): accept any candidate.
        ["Gate:Mode"] = "Auto", ["Gate:MinGain"] = "-1", ["Gate:MaxForgetting"] = "1", ["Gate:MaxLatencyIncrease"] = "100",
    };
}

public sealed class ManualWorld() : PipelineWorld("manual")
{
    public static readonly TimeSpan ApprovalTimeout = TimeSpan.FromSeconds(12);

    protected override IDictionary<string, string?> GateSettings => new Dictionary<string, string?>
    {
        ["Gate:Mode"] = "Manual", ["Gate:MinGain"] = "-1", ["Gate:MaxForgetting"] = "1", ["Gate:MaxLatencyIncrease"] = "100",
        ["Runs:ApprovalTimeout"] = ApprovalTimeout.ToString(),
    };
}

/// <summary>Tuning:Candidates = 2: every run is a tournament of two strategies the policy picks from a small pool.</summary>
public sealed class TournamentWorld() : PipelineWorld("tournament")
{
    protected override IDictionary<string, string?> GateSettings => new Dictionary<string, string?>
    {
        ["Gate:Mode"] = "Auto", ["Gate:MinGain"] = "-1", ["Gate:MaxForgetting"] = "1", ["Gate:MaxLatencyIncrease"] = "100",
        ["Tuning:Candidates"] = "2", ["Tournament:Pool"] = "head,wise,ties",
    };
}
