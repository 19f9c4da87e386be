using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Pipeline.Artifacts;
using Pipeline.Cli.Commands;
using Pipeline.Contracts;
using Pipeline.Storage.Artifacts;
using Pipeline.Storage.Repositories;

namespace Pipeline.Integration.Tests.Faults;

/// <summary>
/// The run owner and the four stage workers as real processes (their Host executables) on RabbitMQ,
/// sharing a SQLite database and artifact folder, plus an in-process observer. Runs are started by
/// an operator's StartAdaptation; labelled production rows are written straight to the store.
/// </summary>
public abstract class FaultWorld : IAsyncLifetime
{
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(180);

    private readonly EventLogModule events = new();
    private readonly List<ServiceProcess> processes = [];
    private IHost? client;

    protected FaultWorld(string name) => Hosts = new ServiceHosts(name);

    public ServiceHosts Hosts { get; }

    public EventLog Events => events.Log;

    public IServiceProvider Services => client!.Services;

    public ServiceProcess Scoring => Process("SensitivityScoring");

    public ServiceProcess Tuning => Process("SparseTuning");

    public ServiceProcess Gate => Process("EvaluationGate");

    public ServiceProcess Deployment => Process("Deployment");

    /// <summary>Broker settings of this world (host, port, virtual host, user), and any setting it changes.</summary>
    protected abstract Dictionary<string, string?> BrokerSettings();

    protected virtual Task StartBrokerAsync() => Task.CompletedTask;

    /// <summary>Creates the services' own users on this world's broker; returns their passwords.</summary>
    protected abstract Task<Dictionary<string, string>> CreateUsersAsync();

    public Dictionary<string, string?> Settings()
    {
        var settings = new Dictionary<string, string?>
        {
            ["Gate:Mode"] = "Auto", ["Gate:MinGain"] = "-1", ["Gate:MaxForgetting"] = "1", ["Gate:MaxLatencyIncrease"] = "100",
            ["Gate:Device"] = "cpu", ["Gate:AlwaysJudgeLatency"] = "true", ["Gate:LatencyPairs"] = "240", ["Gate:Precision"] = "0.5",
            ["Scoring:MinLabelledRows"] = "300", ["Scoring:MaxRows"] = "400", ["Scoring:LabelWaitTimeout"] = "00:01:30",
            ["Scoring:LabelPollInterval"] = "00:00:00.200",
            ["Tuning:Steps"] = "40", ["Tuning:BatchSize"] = "32", ["Tuning:ProgressEverySteps"] = "2", ["Tuning:Device"] = "cpu",
            ["Runs:ExpectedDuration:Scoring"] = "00:01:00", ["Runs:ExpectedDuration:Tuning"] = "00:00:30",
            ["Runs:ExpectedDuration:Evaluating"] = "00:00:30", ["Runs:ExpectedDuration:Deploying"] = "00:00:10",
            ["Messaging:Retry:Limit"] = "2", ["Messaging:Retry:IntervalMilliseconds"] = "500",
        };
        foreach (var (k, v) in BrokerSettings())
        {
            settings[k] = v;
        }

        return settings;
    }

    public async Task InitializeAsync()
    {
        await StartBrokerAsync();
        var passwords = await CreateUsersAsync();
        client = await Hosts.StartAsync([events], Settings());
        foreach (var project in new[] { "AdaptationRuns", "SensitivityScoring", "SparseTuning", "EvaluationGate", "Deployment" })
        {
            // Each service under its own least-privilege user, as in production.
            var user = BrokerUsers.ServiceUser[project];
            var settings = Hosts.Settings(Settings());
            settings["Messaging:Username"] = user;
            settings["Messaging:Password"] = passwords[user];
            processes.Add(new ServiceProcess(project, settings, Hosts.Directory));
        }

        // The owner first: it migrates the shared database before the workers look at it.
        await processes[0].StartAsync(StartTimeout);
        await Task.WhenAll(processes.Skip(1).Select(p => p.StartAsync(StartTimeout)));
    }

    public ServiceProcess Process(string project) => processes.Single(p => p.Name == project);

    /// <summary>A base model (v1 in production) and <paramref name="labelledRows"/> labelled shifted production rows.</summary>
    public async Task SeedAsync(string model, int labelledRows)
    {
        await Seed.BaseModelAsync(Services, model);
        await AddLabelledRowsAsync(model, labelledRows, seed: 50);
    }

    public async Task AddLabelledRowsAsync(string model, int rows, int seed)
    {
        var datasets = new DatasetArtifacts(Services.GetRequiredService<IArtifactStore>());
        var batch = Synthetic.Rows(rows, seed, shifted: true);
        var batchId = Guid.NewGuid().ToString();
        var payload = await datasets.SaveAsync(batch, "observations", $"{model}/{batchId}.pfb", CancellationToken.None);
        await Services.GetRequiredService<IObservationRepository>().AddBatchAsync(new ObservationBatch
        {
            ModelId = model, BatchId = batchId, ModelVersion = 1, RowCount = rows, FeaturesUri = payload.Uri, FeaturesSha256 = payload.Sha256,
            Predictions = new int[rows], Labels = batch.Labels,
        });
    }

    /// <summary>An operator starts a run of the model; returns its id.</summary>
    public async Task<Guid> StartRunAsync(string model)
    {
        await PublishAsOperatorAsync(new StartAdaptation { ModelId = model, Reason = "fault test" });
        return (await Events.WaitAsync<AdaptationRunStarted>(s => s.ModelId == model, TimeSpan.FromSeconds(60))).RunId;
    }

    /// <summary>Publishes a command as the operator (alice, an approver), as pipelinectl does.</summary>
    public Task PublishAsOperatorAsync<T>(T command)
        where T : class
    {
        var b = BrokerSettings();
        return OperatorClient.PublishAsync(
            new BrokerSettings(b["Messaging:Host"]!, int.Parse(b["Messaging:Port"]!, CultureInfo.InvariantCulture), b["Messaging:VirtualHost"]!, Operator, OperatorPassword),
            command, CancellationToken.None);
    }

    protected virtual string Operator => "alice";

    protected virtual string OperatorPassword => "alice";

    /// <summary>The run ended deployed, with one candidate, one deployment row and one end announcement.</summary>
    public async Task AssertDeployedOnceAsync(string model, Guid runId, TimeSpan bound)
    {
        AdaptationRunFinished finished;
        try
        {
            finished = await Events.WaitAsync<AdaptationRunFinished>(f => f.RunId == runId, bound);
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException(ex.Message + "\n" + string.Join("\n", processes.Select(p => $"== {p.Name}\n{p.Tail(25)}")), ex);
        }

        Assert.True(finished.Outcome == RunOutcome.Deployed, $"run ended {finished.Outcome}: {finished.Stage} {finished.Reason}");
        var run = await Services.GetRequiredService<IAdaptationRunRepository>().GetAsync(runId);
        Assert.Equal(RunState.Deployed, run!.State);
        Assert.Equal(2, run.CandidateVersion);
        var versions = await Services.GetRequiredService<IModelRegistry>().ListVersionsAsync(model);
        Assert.Equal([1, 2], versions.Select(v => v.Version).ToArray());
        var deployments = await Services.GetRequiredService<IDeploymentRepository>().ListByModelAsync(model);
        Assert.Single(deployments, d => d.RunId == runId);
        Assert.Equal(2, (await Services.GetRequiredService<IModelRegistry>().GetProductionAsync(model))!.Version);
        // Late duplicates would show up here within a moment.
        await Task.Delay(500);
        Assert.Single(Events.All.OfType<AdaptationRunFinished>(), f => f.RunId == runId);
        Assert.Single(Events.All.OfType<ModelDeployed>().Select(d => d.RunId).Distinct(), id => id == runId);
    }

    public async Task DisposeAsync()
    {
        foreach (var p in processes)
        {
            await p.DisposeAsync();
        }

        await Hosts.DisposeAsync();
        await StopBrokerAsync();
    }

    protected virtual Task StopBrokerAsync() => Task.CompletedTask;
}

/// <summary>On the shared test broker, in this test run's virtual host.</summary>
public sealed class SharedBrokerFaultWorld() : FaultWorld("faults")
{
    protected override Dictionary<string, string?> BrokerSettings() => new()
    {
        ["Messaging:Host"] = Broker.Host, ["Messaging:Port"] = Broker.Port.ToString(CultureInfo.InvariantCulture),
        ["Messaging:VirtualHost"] = Broker.VirtualHost, ["Messaging:Username"] = "guest", ["Messaging:Password"] = "guest",
    };

    protected override Task<Dictionary<string, string>> CreateUsersAsync() =>
        BrokerUsers.ApplyAsync(Environment.GetEnvironmentVariable("RABBITMQ_NODENAME") ?? "rabbit@localhost", Broker.VirtualHost, "alice");
}

/// <summary>On a RabbitMQ node of its own, which the test stops and starts.</summary>
public sealed class OwnBrokerFaultWorld() : FaultWorld("broker")
{
    public RabbitNode? Node { get; private set; }

    private readonly string operatorPassword = Guid.NewGuid().ToString("N");

    protected override string OperatorPassword => operatorPassword;

    protected override async Task StartBrokerAsync() => Node = await RabbitNode.StartAsync();

    protected override async Task StopBrokerAsync()
    {
        if (Node is not null)
        {
            await Node.DisposeAsync();
        }
    }

    protected override Dictionary<string, string?> BrokerSettings() => new()
    {
        ["Messaging:Host"] = "127.0.0.1", ["Messaging:Port"] = Node!.Port.ToString(CultureInfo.InvariantCulture),
        ["Messaging:VirtualHost"] = "/", ["Messaging:Username"] = "guest", ["Messaging:Password"] = "guest",
        // Training long enough that the broker stops while the tuner works.
        ["Tuning:Steps"] = "300", ["Tuning:ProgressEverySteps"] = "5",
    };

    protected override async Task<Dictionary<string, string>> CreateUsersAsync()
    {
        await BrokerUsers.AddUserAsync(Node!.NodeName, "alice", operatorPassword);
        return await BrokerUsers.ApplyAsync(Node.NodeName, "/", "alice");
    }
}
