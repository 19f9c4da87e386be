using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Pipeline.AdaptationRuns;
using Pipeline.Contracts;
using Pipeline.Storage;
using Pipeline.Storage.Data;
using Pipeline.Storage.Migrations;
using Pipeline.Storage.Repositories;

namespace Pipeline.ServiceLogic.Tests.Runs;

/// <summary>A clock the specs move by hand.</summary>
internal sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    public DateTimeOffset Now { get; private set; } = start;

    public override DateTimeOffset GetUtcNow() => Now;

    public void Advance(TimeSpan by) => Now += by;
}

/// <summary>
/// The run owner in process, on a real (temporary) SQLite database and no broker: the specs drive its inputs
/// directly and read what it committed (run state, outbox rows, timers), as the relay and the timer service would.
/// </summary>
internal sealed class RunOwnerWorld : IAsyncDisposable
{
    public const string Model = "spec-model";

    private readonly string directory;

    private RunOwnerWorld(string directory, int candidates)
    {
        this.directory = directory;
        var factory = new DbConnectionFactory(new StorageOptions
        {
            Provider = StorageProvider.Sqlite,
            ConnectionString = $"Data Source={Path.Combine(directory, "pipeline.db")}",
            ArtifactRoot = Path.Combine(directory, "artifacts"),
        });
        Factory = factory;
        Registry = new ModelRegistry(factory, Clock);
        Runs = new AdaptationRunRepository(factory, Clock);
        Steps = new RunStepStore(factory, Clock);
        Tournaments = new TournamentStore(factory, Clock);
        var policy = Options.Create(new TournamentPolicyOptions());
        Owner = new RunOwner(Runs, Steps, Registry, new OutboxSignal(), Options.Create(RunOptions), Clock,
            NullLogger<RunOwner>.Instance, Tournaments, Options.Create(new TournamentOptions { Candidates = candidates }),
            policy, new StrategyEvidence(policy));
    }

    public ManualClock Clock { get; } = new(new DateTimeOffset(2026, 12, 1, 8, 0, 0, TimeSpan.Zero));

    public RunOwnerOptions RunOptions { get; } = new() { MaxAttempts = 2, ApprovalTimeout = TimeSpan.FromHours(1) };

    public DbConnectionFactory Factory { get; }

    public ModelRegistry Registry { get; }

    public AdaptationRunRepository Runs { get; }

    public RunStepStore Steps { get; }

    public TournamentStore Tournaments { get; }

    public RunOwner Owner { get; }

    /// <summary>The specs' token: nothing in them is cancelled.</summary>
    public static readonly CancellationToken None = CancellationToken.None;

    /// <summary>A migrated database with <see cref="Model"/> v1 registered and in production.</summary>
    public static async Task<RunOwnerWorld> CreateAsync(int candidates = 1)
    {
        var dir = Path.Combine(Path.GetTempPath(), "pipeline-runowner-specs", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        var world = new RunOwnerWorld(dir, candidates);
        await new MigrationRunner(world.Factory).MigrateAsync();
        await world.AddVersionAsync(1);
        await world.Registry.SetProductionAsync(Model, 1, "spec");
        return world;
    }

    public Task<bool> AddVersionAsync(int version) => Registry.RegisterVersionAsync(new ModelVersionRecord
    {
        ModelId = Model, Version = version, ArtifactUri = $"file:///v{version}", Sha256 = new string('a', 64),
        Architecture = "cnn", InputShape = [1, 28, 28], Classes = ["a", "b"], CreatedBy = "spec",
    });

    public async Task<Guid> StartAsync()
    {
        var runId = Guid.NewGuid();
        Assert.True(await Owner.StartAsync(runId, Model, 1, "drift", "spec drift", Clock.Now, CancellationToken.None));
        return runId;
    }

    /// <summary>A started tournament run, scored: its entrants' strategies, in the order their work was sent.</summary>
    public async Task<(Guid Run, IReadOnlyList<string> Entrants)> StartScoredTournamentAsync()
    {
        var run = await StartAsync();
        await DrainOutboxAsync();
        await Owner.OnScoredAsync(Scored(run), CancellationToken.None);
        var entrants = (await DrainOutboxAsync())
            .Select(m => System.Text.Json.JsonDocument.Parse(m.Body).RootElement.GetProperty("strategy").GetString()!).ToList();
        return (run, entrants);
    }

    public async Task<RunState> StateAsync(Guid runId) => (await Runs.GetAsync(runId))!.State;

    /// <summary>The committed, not yet relayed messages, by short type name, in order; then they count as relayed.</summary>
    public async Task<IReadOnlyList<(string Type, string Body)>> DrainOutboxAsync()
    {
        var rows = await Steps.PeekOutboxAsync(1000);
        foreach (var row in rows)
        {
            await Steps.DeleteOutboxAsync(row.Id);
        }

        return rows.Select(r => (r.MessageType[(r.MessageType.LastIndexOf('.') + 1)..], r.Body)).ToList();
    }

    public async Task<IReadOnlyList<string>> DrainTypesAsync() => (await DrainOutboxAsync()).Select(m => m.Type).ToList();

    /// <summary>Moves the clock and fires what is due, as RunTimers does.</summary>
    public async Task FireTimersAfterAsync(TimeSpan by)
    {
        Clock.Advance(by);
        foreach (var timer in await Steps.ListDueAsync(Clock.Now, 100))
        {
            await Owner.OnTimerAsync(timer, CancellationToken.None);
        }
    }

    public static SensitivityScored Scored(Guid runId) => new()
    {
        RunId = runId, ModelId = Model, ModelVersion = 1, MaskUri = "file:///mask", Sha256 = new string('b', 64),
        SelectedFraction = 0.05, AdaptationSetId = Guid.NewGuid(), LabelledRows = 500,
        AdaptationSet = new PayloadRef { Uri = "file:///set", Sha256 = new string('c', 64) },
        ShiftedHoldout = new PayloadRef { Uri = "file:///holdout", Sha256 = new string('d', 64) },
    };

    public static CandidateTrained Trained(Guid runId, int version, string strategy = "mist") => new()
    {
        RunId = runId, ModelId = Model, BaseVersion = 1, CandidateVersion = version, ArtifactUri = $"file:///v{version}",
        Sha256 = new string('e', 64), Strategy = strategy, SelectedFraction = 0.05, UpdatedFractionPerStep = 0.05, Steps = 10,
        TrainSeconds = 1, Device = "cpu", ShiftedHoldout = new PayloadRef { Uri = "file:///holdout", Sha256 = new string('d', 64) },
    };

    public static CandidateEvaluated Evaluated(Guid runId, int version, GateDecision decision, double gain = 0.2, string? strategy = null) => new()
    {
        RunId = runId, ModelId = Model, CandidateVersion = version, Strategy = strategy, ProductionVersion = 1,
        ShiftedAccuracyBefore = 0.5, ShiftedAccuracyAfter = 0.5 + gain, OriginalAccuracyBefore = 0.9, OriginalAccuracyAfter = 0.9,
        Forgetting = 0, LatencyMsBefore = 1, LatencyMsAfter = 1, Decision = decision, Reasons = [$"spec {decision}"],
        GainInterval = new ConfidenceInterval { Lower = gain - 0.02, Upper = gain + 0.02, Level = 0.95 },
        ForgettingInterval = new ConfidenceInterval { Lower = -0.01, Upper = 0.01, Level = 0.95 },
    };

    public static ModelDeployed Deployed(Guid runId, int version) => new()
    {
        ModelId = Model, Version = version, PreviousVersion = 1, RunId = runId, ArtifactUri = $"file:///v{version}",
        Sha256 = new string('e', 64), By = "deployment",
    };

    public ValueTask DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
        }

        return ValueTask.CompletedTask;
    }
}
