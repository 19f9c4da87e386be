using Pipeline.Storage.Repositories;

namespace Pipeline.Storage.Tests;

public sealed class AdaptationRunTests : IAsyncLifetime
{
    private TestDatabase _db = null!;
    private AdaptationRunRepository _runs = null!;

    public async Task InitializeAsync()
    {
        _db = await TestDatabase.CreateAsync();
        var registry = new ModelRegistry(_db.Factory);
        await registry.EnsureModelAsync("a");
        await registry.EnsureModelAsync("b");
        _runs = new AdaptationRunRepository(_db.Factory);
    }

    public Task DisposeAsync()
    {
        _db.Dispose();
        return Task.CompletedTask;
    }

    private static NewAdaptationRun Run(string model, Guid? id = null) => new() { RunId = id ?? Guid.NewGuid(), ModelId = model, BaseVersion = 1, Strategy = "mist", Detail = "drift" };

    [Fact]
    public async Task Only_one_active_run_per_model()
    {
        var first = Run("a");
        Assert.True(await _runs.TryStartRunAsync(first));
        Assert.False(await _runs.TryStartRunAsync(Run("a")), "second active run for the same model must be refused");
        Assert.False(await _runs.TryStartRunAsync(first), "same run id again (redelivery) must be refused");
        Assert.True(await _runs.TryStartRunAsync(Run("b")), "another model is independent");
        Assert.Equal(first.RunId, (await _runs.GetActiveRunAsync("a"))!.RunId);
        Assert.Equal(2, (await _runs.ListActiveAsync()).Count);

        // Once the first run is terminal a new run may start.
        Assert.True(await _runs.TryFailAsync(first.RunId, "Scoring", "out of memory"));
        Assert.Null(await _runs.GetActiveRunAsync("a"));
        var second = Run("a");
        Assert.True(await _runs.TryStartRunAsync(second));
        Assert.False(await _runs.TryStartRunAsync(Run("a")));
        Assert.Equal([second.RunId, first.RunId], (await _runs.ListByModelAsync("a")).Select(r => r.RunId));
    }

    [Fact]
    public async Task Database_index_enforces_one_active_run_even_without_the_guard()
    {
        Assert.True(await _runs.TryStartRunAsync(Run("a")));
        await using var c = await _db.Factory.OpenAsync();
        var ex = await Assert.ThrowsAsync<Microsoft.Data.Sqlite.SqliteException>(() => Dapper.SqlMapper.ExecuteAsync(c,
            "INSERT INTO adaptation_runs (run_id, model_id, base_version, state, detected_at, created_at, updated_at) VALUES (@id, 'a', 1, 'Tuning', 't', 't', 't')",
            new { id = Guid.NewGuid() }));
        Assert.Contains("UNIQUE", ex.Message, StringComparison.Ordinal);
        // A terminal row for the same model is fine.
        await Dapper.SqlMapper.ExecuteAsync(c,
            "INSERT INTO adaptation_runs (run_id, model_id, base_version, state, detected_at, created_at, updated_at) VALUES (@id, 'a', 1, 'Rejected', 't', 't', 't')",
            new { id = Guid.NewGuid() });
    }

    [Fact]
    public async Task Concurrent_starters_for_one_model_get_exactly_one_run()
    {
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => new AdaptationRunRepository(_db.Factory).TryStartRunAsync(Run("a")))));
        Assert.Equal(1, results.Count(r => r));
        Assert.Single(await _runs.ListByModelAsync("a"));
    }

    [Fact]
    public async Task Transitions_are_optimistic_and_record_stage_times_and_history()
    {
        var run = Run("a");
        Assert.True(await _runs.TryStartRunAsync(run));
        Assert.False(await _runs.TryTransitionAsync(run.RunId, RunState.Scoring, RunState.Tuning), "wrong expected state must fail");
        Assert.Equal(RunState.Detected, (await _runs.GetAsync(run.RunId))!.State);

        Assert.True(await _runs.TryTransitionAsync(run.RunId, RunState.Detected, RunState.Scoring, detail: "scorer-1"));
        Assert.False(await _runs.TryTransitionAsync(run.RunId, RunState.Detected, RunState.Scoring), "a competing consumer loses");
        Assert.True(await _runs.TryTransitionAsync(run.RunId, RunState.Scoring, RunState.Tuning));
        Assert.True(await _runs.TryTransitionAsync(run.RunId, RunState.Tuning, RunState.Evaluating, new RunUpdate { CandidateVersion = 2, MetricsJson = """{"steps":100}""" }));
        Assert.True(await _runs.TryTransitionAsync(run.RunId, RunState.Evaluating, RunState.AwaitingApproval));
        Assert.True(await _runs.TryTransitionAsync(run.RunId, RunState.AwaitingApproval, RunState.Deploying));
        Assert.True(await _runs.TryTransitionAsync(run.RunId, RunState.Deploying, RunState.Deployed));
        Assert.False(await _runs.TryFailAsync(run.RunId, "Deployment", "too late"));

        var done = await _runs.GetAsync(run.RunId);
        Assert.NotNull(done);
        Assert.Equal(RunState.Deployed, done.State);
        Assert.Equal("a", done.ModelId);
        Assert.Equal(1, done.BaseVersion);
        Assert.Equal(2, done.CandidateVersion);
        Assert.Equal("mist", done.Strategy);
        Assert.Equal("""{"steps":100}""", done.MetricsJson);
        Assert.Null(done.FailureStage);
        Assert.NotNull(done.ScoringAt);
        Assert.NotNull(done.TuningAt);
        Assert.NotNull(done.EvaluatingAt);
        Assert.NotNull(done.AwaitingApprovalAt);
        Assert.NotNull(done.DeployingAt);
        Assert.NotNull(done.FinishedAt);
        Assert.True(done.DetectedAt <= done.ScoringAt && done.ScoringAt <= done.FinishedAt);
        Assert.True(done.UpdatedAt >= done.CreatedAt);

        var history = await _runs.GetHistoryAsync(run.RunId);
        Assert.Equal(
            new (RunState?, RunState)[]
            {
                (null, RunState.Detected), (RunState.Detected, RunState.Scoring), (RunState.Scoring, RunState.Tuning),
                (RunState.Tuning, RunState.Evaluating), (RunState.Evaluating, RunState.AwaitingApproval),
                (RunState.AwaitingApproval, RunState.Deploying), (RunState.Deploying, RunState.Deployed),
            },
            history.Select(h => (h.FromState, h.ToState)));
        Assert.Equal("drift", history[0].Detail);
        Assert.Equal("scorer-1", history[1].Detail);
        Assert.All(history, h => Assert.Equal(run.RunId, h.RunId));
    }

    [Fact]
    public async Task Failures_record_stage_and_reason()
    {
        var run = Run("a");
        Assert.True(await _runs.TryStartRunAsync(run));
        Assert.True(await _runs.TryTransitionAsync(run.RunId, RunState.Detected, RunState.Scoring));
        Assert.True(await _runs.TryFailAsync(run.RunId, "Scoring", "NaN loss"));
        var failed = await _runs.GetAsync(run.RunId);
        Assert.Equal((RunState.Failed, "Scoring", "NaN loss"), (failed!.State, failed.FailureStage, failed.FailureReason));
        Assert.NotNull(failed.FinishedAt);
        Assert.False(await _runs.TryFailAsync(Guid.NewGuid(), "x", "y"));
        Assert.Null(await _runs.GetAsync(Guid.NewGuid()));
        Assert.Equal((RunState.Scoring, RunState.Failed), ((await _runs.GetHistoryAsync(run.RunId))[^1].FromState!.Value, (await _runs.GetHistoryAsync(run.RunId))[^1].ToState));
    }
}
