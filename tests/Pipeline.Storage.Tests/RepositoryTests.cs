using Dapper;
using Pipeline.Storage.Data;
using Pipeline.Storage.Repositories;

namespace Pipeline.Storage.Tests;

public sealed class RepositoryTests : IAsyncLifetime
{
    private static readonly string Sha = new('a', 64);
    private TestDatabase _db = null!;

    public async Task InitializeAsync() => _db = await TestDatabase.CreateAsync();

    public Task DisposeAsync()
    {
        _db.Dispose();
        return Task.CompletedTask;
    }

    private async Task<ModelRegistry> RegistryWithVersionsAsync(string modelId, params int[] versions)
    {
        var registry = new ModelRegistry(_db.Factory);
        foreach (var v in versions)
        {
            Assert.True(await registry.RegisterVersionAsync(Version(modelId, v)));
        }

        return registry;
    }

    private static ModelVersionRecord Version(string modelId, int version) => new()
    {
        ModelId = modelId,
        Version = version,
        ArtifactUri = $"artifact://models/{modelId}/{version}/model.bin",
        Sha256 = Sha,
        Architecture = "cnn-small",
        InputShape = [1, 28, 28],
        Classes = ["T-shirt/top", "Trouser", "Pullover"],
        ParamsTotal = 1_234_567_890_123,
        CreatedBy = "tester",
        MetadataJson = """{"seed":1}""",
    };

    [Fact]
    public async Task Model_registry_round_trips_versions_and_production_alias_history()
    {
        var registry = await RegistryWithVersionsAsync("fmnist", 1, 2);
        Assert.False(await registry.RegisterVersionAsync(Version("fmnist", 2)), "duplicate version must be reported, not thrown");
        Assert.False(await registry.EnsureModelAsync("fmnist"));

        var v1 = await registry.GetVersionAsync("fmnist", 1);
        Assert.NotNull(v1);
        Assert.Equal("artifact://models/fmnist/1/model.bin", v1.ArtifactUri);
        Assert.Equal(Sha, v1.Sha256);
        Assert.Equal("cnn-small", v1.Architecture);
        Assert.Equal([1, 28, 28], v1.InputShape);
        Assert.Equal(["T-shirt/top", "Trouser", "Pullover"], v1.Classes);
        Assert.Equal(1_234_567_890_123, v1.ParamsTotal);
        Assert.Equal("tester", v1.CreatedBy);
        Assert.Equal("""{"seed":1}""", v1.MetadataJson);
        Assert.True(v1.CreatedAt > DateTimeOffset.UtcNow.AddMinutes(-5));
        Assert.Null(await registry.GetVersionAsync("fmnist", 3));
        Assert.Equal([1, 2], (await registry.ListVersionsAsync("fmnist")).Select(v => v.Version));
        Assert.Equal(2, await registry.GetLatestVersionNumberAsync("fmnist"));
        Assert.Null(await registry.GetLatestVersionNumberAsync("other"));
        Assert.Equal("fmnist", Assert.Single(await registry.ListModelsAsync()).ModelId);
        Assert.NotNull(await registry.GetModelAsync("fmnist"));

        Assert.Null(await registry.GetProductionAsync("fmnist"));
        Assert.Null(await registry.SetProductionAsync("fmnist", 1, "deployer", "initial"));
        Assert.False(await registry.TrySetProductionAsync("fmnist", expectedCurrentVersion: 2, version: 2, "deployer"));
        Assert.True(await registry.TrySetProductionAsync("fmnist", expectedCurrentVersion: 1, version: 2, "deployer", "adapted"));
        Assert.Equal(2, await registry.SetProductionAsync("fmnist", 1, "operator", "rollback"));

        var alias = await registry.GetProductionAsync("fmnist");
        Assert.NotNull(alias);
        Assert.Equal(1, alias.Version);
        Assert.Equal("operator", alias.SetBy);
        Assert.Equal("rollback", alias.Reason);

        var history = await registry.GetProductionHistoryAsync("fmnist");
        Assert.Equal(new (int?, int)[] { (2, 1), (1, 2), (null, 1) }, history.Select(h => (h.FromVersion, h.ToVersion)));
        Assert.Equal("rollback", history[0].Reason);
        Assert.Single(await registry.GetProductionHistoryAsync("fmnist", limit: 1));
    }

    [Fact]
    public async Task Production_alias_must_point_at_a_registered_version()
    {
        var registry = await RegistryWithVersionsAsync("m", 1);
        await Assert.ThrowsAnyAsync<Exception>(() => registry.SetProductionAsync("m", 9, "x"));
        Assert.Null(await registry.GetProductionAsync("m"));
    }

    [Fact]
    public async Task Drift_profiles_and_reports_round_trip()
    {
        await RegistryWithVersionsAsync("m", 1);
        var repo = new DriftRepository(_db.Factory);
        await repo.UpsertReferenceProfileAsync(new DriftReferenceProfile { ModelId = "m", Version = 1, ProfileUri = "artifact://profiles/m/1.json", Sha256 = Sha });
        await repo.UpsertReferenceProfileAsync(new DriftReferenceProfile { ModelId = "m", Version = 1, ProfileUri = "artifact://profiles/m/1b.json", Sha256 = new string('b', 64) });
        var profile = await repo.GetReferenceProfileAsync("m", 1);
        Assert.NotNull(profile);
        Assert.Equal("artifact://profiles/m/1b.json", profile.ProfileUri);
        Assert.Equal(new string('b', 64), profile.Sha256);
        Assert.Null(await repo.GetReferenceProfileAsync("m", 2));

        var start = new DateTimeOffset(2026, 11, 22, 10, 0, 0, TimeSpan.FromHours(2));
        var report = new DriftReport
        {
            Id = Guid.NewGuid(),
            ModelId = "m",
            ModelVersion = 1,
            WindowId = "w-1",
            WindowStart = start,
            WindowEnd = start.AddMinutes(5),
            RowCount = 512,
            DatasetDrift = true,
            ShareDrifted = 0.625,
            Severity = "high",
            ReportJson = """{"dataset_drift":true}""",
        };
        Assert.True(await repo.AddReportAsync(report));
        Assert.False(await repo.AddReportAsync(report));
        var older = report with { Id = Guid.NewGuid(), WindowId = "w-0", DatasetDrift = false, CreatedAt = DateTimeOffset.UtcNow.AddHours(-1) };
        Assert.True(await repo.AddReportAsync(older));

        var loaded = await repo.GetReportAsync(report.Id);
        Assert.NotNull(loaded);
        Assert.Equal(report with { CreatedAt = loaded.CreatedAt }, loaded);
        Assert.Equal(start, loaded.WindowStart);
        Assert.Equal(start.UtcDateTime, loaded.WindowStart.UtcDateTime);
        Assert.Equal(["w-1", "w-0"], (await repo.ListReportsAsync("m")).Select(r => r.WindowId));
        Assert.Null(await repo.GetReportAsync(Guid.NewGuid()));
    }

    [Fact]
    public async Task Masks_evaluations_and_approvals_round_trip()
    {
        await RegistryWithVersionsAsync("m", 1);
        var runs = new AdaptationRunRepository(_db.Factory);
        var runId = Guid.NewGuid();
        Assert.True(await runs.TryStartRunAsync(new NewAdaptationRun { RunId = runId, ModelId = "m", BaseVersion = 1 }));

        var masks = new SensitivityMaskRepository(_db.Factory);
        var mask = new SensitivityMaskRecord { RunId = runId, MaskUri = "artifact://masks/r/mask.bin", Sha256 = Sha, SelectedFraction = 0.0421, CoverageJson = """{"conv1.weight":0.05}""", AdaptationSetId = "set-1" };
        await masks.UpsertAsync(mask);
        await masks.UpsertAsync(mask with { SelectedFraction = 0.0422 });
        var loadedMask = await masks.GetAsync(runId);
        Assert.NotNull(loadedMask);
        Assert.Equal(mask with { SelectedFraction = 0.0422, CreatedAt = loadedMask.CreatedAt }, loadedMask);
        Assert.Null(await masks.GetAsync(Guid.NewGuid()));

        var evaluations = new EvaluationRepository(_db.Factory);
        var evaluation = new EvaluationRecord
        {
            RunId = runId,
            CandidateVersion = 2,
            ProductionVersion = 1,
            AccOriginalBefore = 0.91,
            AccOriginalAfter = 0.9,
            AccShiftedBefore = 0.42,
            AccShiftedAfter = 0.81,
            Forgetting = 0.01,
            LatencyMs = 1.5,
            Decision = "await_approval",
            ReasonsJson = """["forgetting ok"]""",
            CreatedAt = new DateTimeOffset(2026, 1, 2, 3, 4, 5, 678, TimeSpan.FromHours(-5)),
        };
        await evaluations.UpsertAsync(evaluation);
        await evaluations.UpsertAsync(evaluation);
        Assert.Equal(evaluation, await evaluations.GetAsync(runId));

        var approvals = new ApprovalRepository(_db.Factory);
        var id1 = await approvals.AddAsync(new ApprovalRecord { RunId = runId, Decision = ApprovalDecision.Approve, DecidedBy = "alice", Mode = ApprovalSource.Manual, Reason = "looks good" });
        var id2 = await approvals.AddAsync(new ApprovalRecord { RunId = runId, Decision = ApprovalDecision.Expired, DecidedBy = "evaluation-gate", Mode = ApprovalSource.Auto });
        Assert.True(id2 > id1);
        var list = await approvals.ListByRunAsync(runId);
        Assert.Equal(2, list.Count);
        Assert.Equal((id1, ApprovalDecision.Approve, "alice", ApprovalSource.Manual, "looks good"), (list[0].Id, list[0].Decision, list[0].DecidedBy, list[0].Mode, list[0].Reason));
        Assert.Equal((ApprovalDecision.Expired, ApprovalSource.Auto, (string?)null), (list[1].Decision, list[1].Mode, list[1].Reason));
        Assert.Equal(runId, list[1].RunId);

        await using var c = await _db.Factory.OpenAsync();
        Assert.Equal("Approve", await c.ExecuteScalarAsync<string>("SELECT decision FROM approvals WHERE id = @id", new { id = id1 }));
    }

    [Fact]
    public async Task Deployments_round_trip_newest_first()
    {
        await RegistryWithVersionsAsync("m", 1, 2);
        var repo = new DeploymentRepository(_db.Factory);
        var runId = Guid.NewGuid();
        var id1 = await repo.AddAsync(new DeploymentRecord { ModelId = "m", Version = 2, PreviousVersion = 1, Kind = DeploymentKind.Deploy, DeployedBy = "deployment", Reason = "approved", RunId = runId });
        var id2 = await repo.AddAsync(new DeploymentRecord { ModelId = "m", Version = 1, PreviousVersion = 2, Kind = DeploymentKind.Rollback, DeployedBy = "bob", Reason = "regression" });
        var list = await repo.ListByModelAsync("m");
        Assert.Equal([id2, id1], list.Select(d => d.Id));
        Assert.Equal(DeploymentKind.Rollback, list[0].Kind);
        Assert.Null(list[0].RunId);
        Assert.Equal(runId, list[1].RunId);
        Assert.Equal((2, (int?)1, "deployment", "approved"), (list[1].Version, list[1].PreviousVersion, list[1].DeployedBy, list[1].Reason));
        Assert.Equal(id2, (await repo.GetLatestAsync("m"))!.Id);
        Assert.Null(await repo.GetLatestAsync("none"));
    }

    [Fact]
    public async Task Observation_batches_round_trip_and_take_labels_later()
    {
        await new ModelRegistry(_db.Factory).EnsureModelAsync("m");
        var repo = new ObservationRepository(_db.Factory);
        var t0 = DateTimeOffset.UtcNow.AddMinutes(-10);
        var batch = new ObservationBatch
        {
            ModelId = "m",
            BatchId = "b-1",
            ModelVersion = 1,
            FeaturesUri = "artifact://observations/m/b-1.bin",
            FeaturesSha256 = Sha,
            Predictions = [3, 1, 4, 1, 5],
            ReceivedAt = t0,
        };
        Assert.True(await repo.AddBatchAsync(batch));
        Assert.False(await repo.AddBatchAsync(batch));
        Assert.True(await repo.AddBatchAsync(batch with { BatchId = "b-2", Predictions = [9, 2], Labels = [9, ObservationBatch.Unlabelled], ReceivedAt = t0.AddMinutes(1) }));
        await Assert.ThrowsAsync<ArgumentException>(() => repo.AddBatchAsync(batch with { BatchId = "bad", Labels = [1] }));

        var loaded = await repo.GetBatchAsync("m", "b-1");
        Assert.NotNull(loaded);
        Assert.Equal(5, loaded.RowCount);
        Assert.Equal([3, 1, 4, 1, 5], loaded.Predictions);
        Assert.Null(loaded.Labels);
        Assert.Equal(0, loaded.LabelledCount);
        Assert.Equal(t0, loaded.ReceivedAt);
        Assert.Equal(["b-2"], (await repo.ListLabelledBatchesAsync("m")).Select(b => b.BatchId));

        Assert.True(await repo.SetLabelsAsync("m", "b-1", [3, 1, 4, -1, 5]));
        Assert.False(await repo.SetLabelsAsync("m", "missing", [1]));
        await Assert.ThrowsAsync<ArgumentException>(() => repo.SetLabelsAsync("m", "b-1", [1, 2]));

        loaded = await repo.GetBatchAsync("m", "b-1");
        Assert.Equal([3, 1, 4, -1, 5], loaded!.Labels);
        Assert.Equal(4, loaded.LabelledCount);
        Assert.NotNull(loaded.LabelledAt);
        Assert.Equal(["b-2", "b-1"], (await repo.ListLabelledBatchesAsync("m")).Select(b => b.BatchId));
        Assert.Equal(["b-2"], (await repo.ListLabelledBatchesAsync("m", since: t0.AddSeconds(30))).Select(b => b.BatchId));
        Assert.Single(await repo.ListBatchesAsync("m", limit: 1));
        Assert.Equal(new ObservationStats(2, 7, 5), await repo.GetStatsAsync("m"));
        Assert.Equal(new ObservationStats(0, 0, 0), await repo.GetStatsAsync("nobody"));
    }

    [Fact]
    public async Task Pause_flags_round_trip()
    {
        var repo = new AdaptationPauseRepository(_db.Factory);
        Assert.False(await repo.IsPausedAsync("m"));
        Assert.Null(await repo.GetAsync("m"));
        await repo.SetAsync("m", paused: true, "carol", "investigating");
        Assert.True(await repo.IsPausedAsync("m"));
        var row = await repo.GetAsync("m");
        Assert.Equal(("m", true, "investigating", "carol"), (row!.ModelId, row.Paused, row.Reason, row.SetBy));
        await repo.SetAsync("m", paused: false, "dave");
        Assert.False(await repo.IsPausedAsync("m"));
        Assert.Null((await repo.GetAsync("m"))!.Reason);
    }

    [Fact]
    public async Task Guid_and_DateTimeOffset_are_stored_as_text_and_round_trip()
    {
        await new ModelRegistry(_db.Factory).EnsureModelAsync("m");
        var runs = new AdaptationRunRepository(_db.Factory);
        var runId = Guid.NewGuid();
        var reportId = Guid.NewGuid();
        Assert.True(await runs.TryStartRunAsync(new NewAdaptationRun { RunId = runId, ModelId = "m", BaseVersion = 1, DriftReportId = reportId }));

        await using var c = await _db.Factory.OpenAsync();
        Assert.Equal("text", await c.ExecuteScalarAsync<string>("SELECT typeof(run_id) FROM adaptation_runs"));
        Assert.Equal(runId.ToString("D"), await c.ExecuteScalarAsync<string>("SELECT run_id FROM adaptation_runs"));
        var stamp = await c.ExecuteScalarAsync<string>("SELECT created_at FROM adaptation_runs");
        Assert.Matches(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}\+00:00$", stamp!);

        // Parameters bind as text too, so WHERE run_id = @guid matches.
        Assert.Equal(1, await c.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM adaptation_runs WHERE run_id = @runId AND drift_report_id = @reportId", new { runId, reportId }));
        var offset = new DateTimeOffset(2026, 5, 6, 7, 8, 9, TimeSpan.FromHours(9)).AddTicks(1234567);
        Assert.Equal(offset, await c.ExecuteScalarAsync<DateTimeOffset>("SELECT @offset", new { offset }));
        Assert.Equal((Guid?)null, await c.ExecuteScalarAsync<Guid?>("SELECT @g", new { g = (Guid?)null }));

        var run = await runs.GetAsync(runId);
        Assert.Equal(reportId, run!.DriftReportId);
        Assert.Equal(DapperTypeHandlers.ToSqliteText(run.CreatedAt), stamp);
    }
}
