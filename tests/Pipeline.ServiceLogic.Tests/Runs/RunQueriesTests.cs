using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Contracts;
using Pipeline.AdaptationRuns;
using Pipeline.Storage;
using Pipeline.Storage.Data;
using Pipeline.Storage.Migrations;
using Pipeline.Storage.Repositories;

namespace Pipeline.ServiceLogic.Tests.Runs;

/// <summary>runs show (and its JSON) shows the approver the candidate awaiting approval, not the last one evaluated.</summary>
public sealed class RunQueriesTests
{
    [Fact]
    public async Task A_three_candidate_run_shows_the_winner_awaiting_approval_although_another_was_evaluated_last()
    {
        var dir = Path.Combine(Path.GetTempPath(), "pipeline-runqueries-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddPipelineStorage(o =>
        {
            o.Provider = StorageProvider.Sqlite;
            o.ConnectionString = new SqliteConnectionStringBuilder { DataSource = Path.Combine(dir, "pipeline.db") }.ToString();
            o.ArtifactRoot = Path.Combine(dir, "artifacts");
            o.MigrateOnStartup = false;
        });
        services.AddSingleton<RunQueries>();
        await using var sp = services.BuildServiceProvider();
        try
        {
            await new MigrationRunner(sp.GetRequiredService<IDbConnectionFactory>()).MigrateAsync();
            var registry = sp.GetRequiredService<IModelRegistry>();
            foreach (var v in new[] { 3, 4, 5, 6 })
            {
                Assert.True(await registry.RegisterVersionAsync(new ModelVersionRecord
                {
                    ModelId = "user-mlp", Version = v, ArtifactUri = $"artifact://models/user-mlp/{v}/model.bin", Sha256 = new string('a', 64),
                    Architecture = "torchscript", InputShape = [8], Classes = ["a", "b", "c"], CreatedBy = "test",
                }));
            }

            var runs = sp.GetRequiredService<IAdaptationRunRepository>();
            var id = Guid.NewGuid();
            Assert.True(await runs.TryStartRunAsync(new NewAdaptationRun { RunId = id, ModelId = "user-mlp", BaseVersion = 3 }));
            Assert.True(await runs.TryTransitionAsync(id, RunState.Detected, RunState.Scoring));
            Assert.True(await runs.TryTransitionAsync(id, RunState.Scoring, RunState.Tuning));
            Assert.True(await runs.TryTransitionAsync(id, RunState.Tuning, RunState.Evaluating));

            // Three entrants; the gate measured wise (v4) first and ewc (v6) last; wise won and awaits approval.
            var tournaments = sp.GetRequiredService<ITournamentStore>();
            CandidateEntry Entrant(string strategy, int version, double gain, double forgetting, double latency, string outcome) => new()
            {
                RunId = id, Strategy = strategy, State = CandidateState.Evaluated, CandidateVersion = version, Decision = "AskOperator",
                Gain = gain, GainLower = gain - 0.02, GainUpper = gain + 0.02, Forgetting = forgetting, ForgettingLower = forgetting - 0.01,
                ForgettingUpper = forgetting + 0.01, LatencyIncrease = latency, Score = gain - forgetting, Outcome = outcome,
            };
            Assert.NotNull(await tournaments.RecordCandidateAsync(RunState.Evaluating, Entrant("wise", 4, 0.069, 0.004, 0.02, "winner")));
            Assert.NotNull(await tournaments.RecordCandidateAsync(RunState.Evaluating, Entrant("ties", 5, 0.031, 0.010, 0.01, "lost")));
            Assert.NotNull(await tournaments.RecordCandidateAsync(RunState.Evaluating, Entrant("ewc", 6, 0.017, 0.002, 0.00, "lost")));
            await sp.GetRequiredService<IEvaluationRepository>().UpsertAsync(new EvaluationRecord
            {
                RunId = id, CandidateVersion = 6, ProductionVersion = 3, AccShiftedBefore = 0.31, AccShiftedAfter = 0.327,
                AccOriginalBefore = 0.977, AccOriginalAfter = 0.975, Forgetting = 0.002, LatencyMs = 1.5, Decision = "AskOperator",
                GainLower = 0.0, GainUpper = 0.03, ForgettingLower = -0.01, ForgettingUpper = 0.01,
            });
            Assert.True(await runs.TryTransitionAsync(id, RunState.Evaluating, RunState.AwaitingApproval,
                new RunUpdate { CandidateVersion = 4, Strategy = "wise" }));

            var details = await sp.GetRequiredService<RunQueries>().GetAsync(id, CancellationToken.None);
            Assert.NotNull(details);
            Assert.Equal(4, details.Run.CandidateVersion);
            var e = details.Evaluation!;
            Assert.Equal(4, e.CandidateVersion);
            Assert.Equal("wise", e.Strategy);
            Assert.Equal(3, e.ProductionVersion);
            Assert.Equal(0.31, e.ShiftedBefore, 12);
            Assert.Equal(0.31 + 0.069, e.ShiftedAfter, 12);
            Assert.Equal(0.977 - 0.004, e.OriginalAfter, 12);
            Assert.Equal(0.004, e.Forgetting, 12);
            Assert.Equal(0.049, e.GainLower!.Value, 12);
            Assert.Equal(0.089, e.GainUpper!.Value, 12);
            Assert.Null(e.LatencyMs);
            Assert.Equal(0.02, e.LatencyIncrease!.Value, 12);
            // The other entrants are listed as the tournament's candidates, with their own numbers and outcomes.
            Assert.Equal(["ewc", "ties", "wise"], details.Candidates.Select(c => c.Strategy));
            Assert.Equal("lost", details.Candidates.Single(c => c.CandidateVersion == 6).Outcome);

            // Without a tournament (or when the awaited candidate was evaluated last) the gate's row is shown as stored.
            var single = RunQueries.EvaluationOf(
                new AdaptationRun { ModelId = "user-mlp", CandidateVersion = 6 },
                await sp.GetRequiredService<IEvaluationRepository>().GetAsync(id), []);
            Assert.Equal(6, single!.CandidateVersion);
            Assert.Equal(0.327, single.ShiftedAfter, 12);
            Assert.Equal(1.5, single.LatencyMs);
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(dir, recursive: true);
        }
    }
}
