using System.Text.Json;
using Pipeline.AdaptationRuns;
using Pipeline.Contracts;
using Pipeline.Hosting;
using Pipeline.Storage.Repositories;
using static Pipeline.ServiceLogic.Tests.Runs.RunOwnerWorld;

namespace Pipeline.ServiceLogic.Tests.Runs;

/// <summary>
/// The run owner's transitions, timeouts, duplicates and late results, driven in process on SQLite (no broker).
/// The RabbitMQ flows (Integration tests) check the same owner end to end.
/// </summary>
public sealed class RunOwnerSpecs
{
    [Fact]
    public async Task A_run_moves_from_drift_to_deployed_and_sends_each_stage_its_work()
    {
        await using var w = await CreateAsync();
        var run = await w.StartAsync();
        Assert.Equal(RunState.Scoring, await w.StateAsync(run));
        Assert.Equal(["ScoreSensitivity", "AdaptationRunStarted"], await w.DrainTypesAsync());

        await w.Owner.OnScoredAsync(Scored(run), None);
        Assert.Equal(RunState.Tuning, await w.StateAsync(run));
        Assert.Equal(["TrainCandidate"], await w.DrainTypesAsync());

        await w.Owner.OnTrainedAsync(Trained(run, 2), None);
        Assert.Equal(RunState.Evaluating, await w.StateAsync(run));
        Assert.Equal(["EvaluateCandidate"], await w.DrainTypesAsync());

        await w.Owner.OnEvaluatedAsync(Evaluated(run, 2, GateDecision.Approve), None);
        Assert.Equal(RunState.Deploying, await w.StateAsync(run));
        var deploying = await w.DrainOutboxAsync();
        Assert.Equal(["CandidateApproved", "DeployCandidate"], deploying.Select(m => m.Type));
        var deploy = JsonDocument.Parse(deploying[1].Body).RootElement;
        Assert.Equal(2, deploy.GetProperty("candidateVersion").GetInt32());
        Assert.Equal(1, deploy.GetProperty("baseVersion").GetInt32());

        await w.Owner.OnDeployedAsync(Deployed(run, 2), None);
        Assert.Equal(RunState.Deployed, await w.StateAsync(run));
        var finished = Assert.Single(await w.DrainOutboxAsync());
        Assert.Equal("AdaptationRunFinished", finished.Type);
        Assert.Equal("Deployed", JsonDocument.Parse(finished.Body).RootElement.GetProperty("outcome").GetString());
        Assert.Null(await w.Steps.GetTimerAsync(run));
    }

    [Fact]
    public async Task Duplicates_and_redeliveries_change_nothing()
    {
        await using var w = await CreateAsync();
        var run = await w.StartAsync();
        Assert.False(await w.Owner.StartAsync(Guid.NewGuid(), Model, 1, "drift", "second drift", w.Clock.Now, None));
        Assert.False(await w.Owner.StartAsync(run, Model, 1, "drift", "same run again", w.Clock.Now, None));
        await w.DrainOutboxAsync();

        await w.Owner.OnScoredAsync(Scored(run), None);
        await w.Owner.OnScoredAsync(Scored(run), None);
        Assert.Equal(["TrainCandidate"], await w.DrainTypesAsync());

        await w.Owner.OnTrainedAsync(Trained(run, 2), None);
        await w.Owner.OnTrainedAsync(Trained(run, 3), None); // re-sent work trained another version: the first one stays
        Assert.Equal(["EvaluateCandidate"], await w.DrainTypesAsync());
        Assert.Equal(2, (await w.Runs.GetAsync(run))!.CandidateVersion);

        await w.Owner.OnEvaluatedAsync(Evaluated(run, 3, GateDecision.Approve), None); // not the run's candidate
        Assert.Equal(RunState.Evaluating, await w.StateAsync(run));
        Assert.Empty(await w.DrainOutboxAsync());

        await w.Owner.OnEvaluatedAsync(Evaluated(run, 2, GateDecision.Reject), None);
        await w.Owner.OnEvaluatedAsync(Evaluated(run, 2, GateDecision.Approve), None); // late, opposite verdict
        Assert.Equal(RunState.Rejected, await w.StateAsync(run));
        Assert.Equal(["CandidateRejected", "AdaptationRunFinished"], await w.DrainTypesAsync());
    }

    [Fact]
    public async Task Drift_seen_on_a_replaced_version_and_results_for_unknown_runs_are_refused()
    {
        await using var w = await CreateAsync();
        await w.AddVersionAsync(2);
        await w.Registry.SetProductionAsync(Model, 2, "spec");
        await Assert.ThrowsAsync<StaleDriftException>(() => w.Owner.StartAsync(Guid.NewGuid(), Model, 1, "drift", "old", null, None));
        await Assert.ThrowsAsync<CommandRejectedException>(() => w.Owner.StartAsync(Guid.NewGuid(), "no-such-model", null, "op", "x", null, None));
        await Assert.ThrowsAsync<CommandRejectedException>(() => w.Owner.OnScoredAsync(Scored(Guid.NewGuid()), None));
        Assert.Empty(await w.DrainOutboxAsync());
    }

    [Fact]
    public async Task A_failure_report_of_a_stage_the_run_left_is_late_and_ignored()
    {
        await using var w = await CreateAsync();
        var run = await w.StartAsync();
        await w.Owner.OnScoredAsync(Scored(run), None);
        await w.DrainOutboxAsync();

        await w.Owner.OnStageFailedAsync(new AdaptationStageFailed { RunId = run, ModelId = Model, Stage = RunStage.Score, Reason = "late" }, None);
        Assert.Equal(RunState.Tuning, await w.StateAsync(run));
        Assert.Empty(await w.DrainOutboxAsync());

        await w.Owner.OnStageFailedAsync(new AdaptationStageFailed { RunId = run, ModelId = Model, Stage = RunStage.Tune, Reason = "out of memory" }, None);
        var failed = await w.Runs.GetAsync(run);
        Assert.Equal(RunState.Failed, failed!.State);
        Assert.Equal("tune", failed.FailureStage);
        Assert.Equal(["AdaptationRunFailed", "AdaptationRunFinished"], await w.DrainTypesAsync());
    }

    [Fact]
    public async Task Lost_work_is_sent_again_until_the_attempts_are_spent_then_the_run_fails()
    {
        await using var w = await CreateAsync();
        var run = await w.StartAsync();
        await w.DrainOutboxAsync();
        var timeout = w.RunOptions.NoProgressTimeout(RunState.Scoring);

        await w.FireTimersAfterAsync(timeout - TimeSpan.FromSeconds(1));
        Assert.Empty(await w.DrainOutboxAsync());

        await w.FireTimersAfterAsync(TimeSpan.FromSeconds(2));
        var again = Assert.Single(await w.DrainOutboxAsync());
        Assert.Equal("ScoreSensitivity", again.Type);
        Assert.Equal(2, JsonDocument.Parse(again.Body).RootElement.GetProperty("attempt").GetInt32());
        Assert.Equal(RunState.Scoring, await w.StateAsync(run));

        await w.FireTimersAfterAsync(timeout + TimeSpan.FromSeconds(1));
        Assert.Equal(RunState.Failed, await w.StateAsync(run));
        Assert.Equal(["AdaptationRunFailed", "AdaptationRunFinished"], await w.DrainTypesAsync());
        Assert.Contains("no progress in Scoring", (await w.Runs.GetAsync(run))!.FailureReason);
    }

    [Fact]
    public async Task Progress_from_the_tuner_postpones_its_timeout()
    {
        await using var w = await CreateAsync();
        var run = await w.StartAsync();
        await w.Owner.OnScoredAsync(Scored(run), None);
        await w.DrainOutboxAsync();
        var timeout = w.RunOptions.NoProgressTimeout(RunState.Tuning);

        w.Clock.Advance(timeout - TimeSpan.FromSeconds(5));
        await w.Owner.OnProgressAsync(new TuningProgress { RunId = run, ModelId = Model, Step = 5, TotalSteps = 10, Loss = 1, UpdatedFraction = 0.05 }, None);
        await w.FireTimersAfterAsync(TimeSpan.FromSeconds(10));
        Assert.Empty(await w.DrainOutboxAsync());
        Assert.Equal(RunState.Tuning, await w.StateAsync(run));
    }

    [Fact]
    public async Task An_approval_nobody_gives_expires_as_a_rejection()
    {
        await using var w = await CreateAsync();
        var run = await ToEvaluatedAsync(w, GateDecision.AskOperator);
        Assert.Equal(RunState.AwaitingApproval, await w.StateAsync(run));
        Assert.Equal(["ApprovalRequested"], await w.DrainTypesAsync());

        await w.FireTimersAfterAsync(w.RunOptions.ApprovalTimeout + TimeSpan.FromSeconds(1));
        Assert.Equal(RunState.Rejected, await w.StateAsync(run));
        var rejected = await w.DrainOutboxAsync();
        Assert.Equal(["CandidateRejected", "AdaptationRunFinished"], rejected.Select(m => m.Type));
        Assert.Equal("Expired", JsonDocument.Parse(rejected[0].Body).RootElement.GetProperty("mode").GetString());
        await Assert.ThrowsAsync<CommandRejectedException>(() => w.Owner.DecideAsync(run, Model, "alice", "too late", approve: true, None));
    }

    [Fact]
    public async Task An_approver_decides_once_and_only_for_the_runs_model()
    {
        await using var w = await CreateAsync();
        var run = await ToEvaluatedAsync(w, GateDecision.AskOperator);
        await w.DrainOutboxAsync();

        await Assert.ThrowsAsync<CommandRejectedException>(() => w.Owner.DecideAsync(run, "other-model", "alice", "x", approve: true, None));
        await w.Owner.DecideAsync(run, Model, "alice", "looks right", approve: true, None);
        Assert.Equal(RunState.Deploying, await w.StateAsync(run));
        var approved = await w.DrainOutboxAsync();
        Assert.Equal(["CandidateApproved", "DeployCandidate"], approved.Select(m => m.Type));
        Assert.Equal("alice", JsonDocument.Parse(approved[0].Body).RootElement.GetProperty("by").GetString());

        await Assert.ThrowsAsync<CommandRejectedException>(() => w.Owner.DecideAsync(run, Model, "bob", "again", approve: false, None));
        Assert.Equal(RunState.Deploying, await w.StateAsync(run));
    }

    [Fact]
    public async Task A_tournament_waits_for_every_entrant_drops_the_failed_one_and_picks_the_best_not_the_last()
    {
        await using var w = await CreateAsync(candidates: 3);
        var (run, entrants) = await w.StartScoredTournamentAsync();
        Assert.Equal(3, entrants.Distinct().Count());

        await w.Owner.OnTrainedAsync(Trained(run, 2, entrants[0]), None);
        await w.Owner.OnTrainedAsync(Trained(run, 2, entrants[0]), None); // duplicate
        Assert.Equal(RunState.Tuning, await w.StateAsync(run));
        await w.Owner.OnStageFailedAsync(new AdaptationStageFailed { RunId = run, ModelId = Model, Stage = RunStage.Tune, Reason = "diverged", Candidate = entrants[1] }, None);
        Assert.Equal(RunState.Tuning, await w.StateAsync(run));
        await w.Owner.OnTrainedAsync(Trained(run, 3, entrants[2]), None);
        Assert.Equal(RunState.Evaluating, await w.StateAsync(run));
        Assert.Equal(["EvaluateCandidate", "EvaluateCandidate"], await w.DrainTypesAsync());

        // A candidate is named by its id: an evaluation naming one entrant with another's version is not its result.
        await w.Owner.OnEvaluatedAsync(Evaluated(run, 2, GateDecision.Approve, gain: 0.50, strategy: entrants[2]), None);
        Assert.All(await w.Tournaments.ListCandidatesAsync(run), c => Assert.NotEqual(CandidateState.Evaluated, c.State));
        await w.Owner.OnEvaluatedAsync(Evaluated(run, 2, GateDecision.Approve, gain: 0.30, strategy: entrants[0]), None);
        Assert.Equal(RunState.Evaluating, await w.StateAsync(run));
        // Without an id (a gate that does not pass it on) the measured version names the candidate.
        await w.Owner.OnEvaluatedAsync(Evaluated(run, 3, GateDecision.Approve, gain: 0.05), None);
        var decided = await w.Runs.GetAsync(run);
        Assert.Equal(RunState.Deploying, decided!.State);
        Assert.Equal(2, decided.CandidateVersion);
        Assert.Equal(entrants[0], decided.Strategy);

        var candidates = await w.Tournaments.ListCandidatesAsync(run);
        Assert.Equal("winner", candidates.Single(c => c.Strategy == entrants[0]).Outcome);
        Assert.Equal(CandidateState.Failed, candidates.Single(c => c.Strategy == entrants[1]).State);
        Assert.Equal("lost", candidates.Single(c => c.Strategy == entrants[2]).Outcome);
    }

    private static async Task<Guid> ToEvaluatedAsync(RunOwnerWorld w, GateDecision decision)
    {
        var run = await w.StartAsync();
        await w.Owner.OnScoredAsync(Scored(run), None);
        await w.Owner.OnTrainedAsync(Trained(run, 2), None);
        await w.DrainOutboxAsync();
        await w.Owner.OnEvaluatedAsync(Evaluated(run, 2, decision), None);
        return run;
    }
}
