using Pipeline.Contracts;
using Pipeline.Storage.Repositories;

namespace Pipeline.Integration.Tests;

/// <summary>A run with Tuning:Candidates = 2: both candidates train and are gated on the same holdouts, the best one ships, both are recorded.</summary>
public class TournamentFlowTests(TournamentWorld world) : IClassFixture<TournamentWorld>
{
    private static readonly TimeSpan Run = TimeSpan.FromMinutes(4);

    [Fact]
    public async Task A_drift_runs_a_tournament_and_deploys_its_winner_recording_every_candidate()
    {
        const string model = "tournament-model";
        await world.SeedBaseAsync(model);

        await world.IngestAsync(model, 1, Synthetic.Rows(300, seed: 12, shifted: true));

        var detected = await world.Events.WaitAsync<DriftDetected>(d => d.ModelId == model, TimeSpan.FromSeconds(90));
        var finished = await world.Events.WaitAsync<AdaptationRunFinished>(f => f.RunId == detected.RunId, Run);
        Assert.Equal(RunOutcome.Deployed, finished.Outcome);

        var store = world.Get<ITournamentStore>();
        var tournament = await store.GetAsync(detected.RunId);
        Assert.NotNull(tournament);
        Assert.False(string.IsNullOrWhiteSpace(tournament!.PolicyReason));
        var candidates = await store.ListCandidatesAsync(detected.RunId);
        Assert.Equal(2, candidates.Count);
        Assert.Equal(tournament.Strategies!.Split(',').Order(), candidates.Select(c => c.Strategy).Order());
        Assert.All(candidates, c => Assert.Equal(CandidateState.Evaluated, c.State));
        Assert.All(candidates, c => Assert.NotNull(c.GainLower));
        var winner = Assert.Single(candidates, c => c.Outcome == "winner");
        Assert.Single(candidates, c => c.Outcome == "lost" && c.Reason!.StartsWith("lost", StringComparison.Ordinal));
        Assert.Equal(winner.Strategy, tournament.Winner);

        // Both trained on competing tuner consumers, both were gated, one went to production: the winner.
        Assert.Equal(2, world.Events.All.OfType<CandidateTrained>().Count(c => c.RunId == detected.RunId));
        Assert.Equal(2, world.Events.All.OfType<EvaluateCandidate>().Count(e => e.RunId == detected.RunId));
        var run = await world.Get<IAdaptationRunRepository>().GetAsync(detected.RunId);
        Assert.Equal(winner.CandidateVersion, run!.CandidateVersion);
        Assert.Equal(winner.Strategy, run.Strategy);
        var production = (await world.Get<IModelRegistry>().GetProductionAsync(model))!;
        Assert.Equal(winner.CandidateVersion, production.Version);

        // The new version remembers both regimes: its replay set and gate holdout hold the original rows and the run's.
        var deployed = await world.Get<IModelRegistry>().GetVersionAsync(model, production.Version);
        var meta = Pipeline.Artifacts.VersionMetadata.Parse(deployed!.MetadataJson);
        Assert.Equal(2, meta.ReplayRegimeRows!.Count);
        Assert.Equal(2, meta.HoldoutRegimeRows!.Count);
        Assert.All(meta.HoldoutRegimeRows, n => Assert.True(n > 0));
    }
}
