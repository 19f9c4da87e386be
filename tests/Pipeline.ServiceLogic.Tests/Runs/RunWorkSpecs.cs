using System.Text.Json;
using Pipeline.AdaptationRuns;
using Pipeline.Contracts;
using Pipeline.Hosting;
using Pipeline.Storage.Repositories;
using static Pipeline.ServiceLogic.Tests.Runs.RunOwnerWorld;

namespace Pipeline.ServiceLogic.Tests.Runs;

/// <summary>
/// What the services around the run learn of it: the run module's query (RunWorkQuery) and a candidate's one id
/// (its strategy) in the work the owner sends and the failures workers report. In process, on SQLite, no broker.
/// </summary>
public sealed class RunWorkSpecs
{
    [Fact]
    public async Task Work_is_wanted_while_the_run_lasts_and_deployment_only_for_the_candidate_it_deploys()
    {
        await using var w = await CreateAsync();
        var query = new RunWorkQuery(w.Runs);
        var run = await w.StartAsync();
        var score = new ScoreSensitivity { RunId = run, ModelId = Model, BaseVersion = 1 };
        Assert.True((await query.IsWantedAsync(score, RunStage.Score, null, None)).Wanted);
        Assert.False((await query.IsWantedAsync(Deploy(run, 2), RunStage.Deploy, 2, None)).Wanted);

        await w.Owner.OnScoredAsync(Scored(run), None);
        await w.Owner.OnTrainedAsync(Trained(run, 2), None);
        await w.Owner.OnEvaluatedAsync(Evaluated(run, 2, GateDecision.Approve), None);
        Assert.True((await query.IsWantedAsync(Deploy(run, 2), RunStage.Deploy, 2, None)).Wanted);
        Assert.False((await query.IsWantedAsync(Deploy(run, 3), RunStage.Deploy, 3, None)).Wanted);

        await w.Owner.OnDeployedAsync(Deployed(run, 2), None);
        var (wanted, state) = await query.IsWantedAsync(score, RunStage.Score, null, None);
        Assert.False(wanted);
        Assert.Equal(RunState.Deployed, state);
        await Assert.ThrowsAsync<CommandRejectedException>(() =>
            query.IsWantedAsync(score with { RunId = Guid.NewGuid() }, RunStage.Score, null, None));
        await Assert.ThrowsAsync<CommandRejectedException>(() =>
            query.IsWantedAsync(score with { ModelId = "another-model" }, RunStage.Score, null, None));
    }

    [Fact]
    public async Task The_drift_monitor_learns_of_a_run_in_flight_and_when_the_last_one_was_decided()
    {
        await using var w = await CreateAsync();
        var query = new RunWorkQuery(w.Runs);
        Assert.Equal(new RunActivity(false, null), await query.ActivityAsync(Model, None));

        var run = await w.StartAsync();
        Assert.Equal(new RunActivity(true, null), await query.ActivityAsync(Model, None));

        await w.Owner.OnScoredAsync(Scored(run), None);
        await w.Owner.OnTrainedAsync(Trained(run, 2), None);
        await w.Owner.OnEvaluatedAsync(Evaluated(run, 2, GateDecision.Reject), None);
        Assert.Equal(new RunActivity(false, w.Clock.Now), await query.ActivityAsync(Model, None));
    }

    [Fact]
    public async Task The_gate_names_a_failed_candidate_by_its_strategy_and_only_that_one_drops_out()
    {
        await using var w = await CreateAsync(candidates: 3);
        var (run, entrants) = await w.StartScoredTournamentAsync();
        for (var i = 0; i < entrants.Count; i++)
        {
            await w.Owner.OnTrainedAsync(Trained(run, 2 + i, entrants[i]), None);
        }

        var work = (await w.DrainOutboxAsync()).Select(m => JsonDocument.Parse(m.Body).RootElement)
            .ToDictionary(e => e.GetProperty("candidateVersion").GetInt32(), e => e.GetProperty("strategy").GetString());
        Assert.Equal(new Dictionary<int, string?> { [2] = entrants[0], [3] = entrants[1], [4] = entrants[2] }, work);

        await w.Owner.OnStageFailedAsync(new AdaptationStageFailed
        {
            RunId = run, ModelId = Model, Stage = RunStage.Evaluate, Reason = "holdout unreadable", Candidate = entrants[1],
        }, None);
        Assert.Equal(RunState.Evaluating, await w.StateAsync(run));
        await w.Owner.OnEvaluatedAsync(Evaluated(run, 2, GateDecision.Approve, gain: 0.10), None);
        await w.Owner.OnEvaluatedAsync(Evaluated(run, 4, GateDecision.Approve, gain: 0.20), None);

        Assert.Equal(RunState.Deploying, await w.StateAsync(run));
        var candidates = await w.Tournaments.ListCandidatesAsync(run);
        Assert.Equal(CandidateState.Failed, candidates.Single(c => c.Strategy == entrants[1]).State);
        Assert.Contains("failed in evaluate: holdout unreadable", candidates.Single(c => c.Strategy == entrants[1]).Reason, StringComparison.Ordinal);
        Assert.Equal(CandidateState.Evaluated, candidates.Single(c => c.Strategy == entrants[2]).State);
    }

    private static DeployCandidate Deploy(Guid run, int candidate) => new()
    {
        RunId = run, ModelId = Model, BaseVersion = 1, CandidateVersion = candidate, By = "spec", Mode = ApprovalMode.Auto,
    };
}
