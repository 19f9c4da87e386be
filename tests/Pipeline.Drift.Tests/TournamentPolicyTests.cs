using Pipeline.Drift.Tournament;
using Xunit;

namespace Pipeline.Drift.Tests;

public class TournamentPolicyTests
{
    private static readonly TournamentPolicyOptions Defaults = new();

    private static ShiftSignature Shift(string severity, int? rows, params (string Name, string Test)[] moved) =>
        ShiftSignature.From(severity, 0.5, moved.Select(m => new MovedFeature(m.Name, m.Test)).ToList(), rows);

    [Fact]
    public void The_report_s_features_tell_the_kind_of_shift()
    {
        Assert.Equal(ShiftKind.Intensity, Shift("High", null, ("pixel_mean", "ks"), ("ink_fraction", "ks")).Kind);
        Assert.Equal(ShiftKind.Spatial, Shift("High", null, ("pool_r1_c2", "ks"), ("pool_r0_c0", "ks")).Kind);
        Assert.Equal(ShiftKind.Mixed, Shift("High", null, ("pool_r1_c2", "ks"), ("pixel_std", "ks")).Kind);
        Assert.Equal(ShiftKind.Embedding, Shift("Medium", null, ("embedding", "mmd")).Kind);
        Assert.Equal(ShiftKind.Unknown, Shift("Medium", null).Kind);
    }

    [Fact]
    public void Without_history_the_kind_s_priors_and_the_severity_s_pick_enter()
    {
        var spatialHigh = StrategyPolicy.Choose(Shift("High", 2000, ("pool_r1_c1", "ks")), [], 3, Defaults);
        Assert.Equal(["full", "wise", "ties"], spatialHigh.Strategies);
        Assert.Contains("severity High", spatialHigh.Reason);

        var intensityMedium = StrategyPolicy.Choose(Shift("Medium", 2000, ("pixel_mean", "ks")), [], 3, Defaults);
        Assert.Equal(["wise", "ewc", "full"], intensityMedium.Strategies);
    }

    [Fact]
    public void A_small_label_budget_keeps_high_capacity_strategies_out()
    {
        var choice = StrategyPolicy.Choose(Shift("High", 120, ("pool_r1_c1", "ks")), [], 3, Defaults);

        Assert.DoesNotContain("full", choice.Strategies);
        Assert.DoesNotContain("lora", choice.Strategies);
        Assert.Equal(3, choice.Strategies.Count);
        Assert.Contains("120 labelled rows < 300", choice.Reason);
    }

    [Fact]
    public void Earlier_winners_on_the_same_kind_of_shift_enter_first_and_other_kinds_do_not_count()
    {
        TournamentHistory[] history =
        [
            new(ShiftKind.Intensity, ["wise", "ewc", "full"], "ewc"),
            new(ShiftKind.Intensity, ["wise", "ewc", "full"], "ewc"),
            new(ShiftKind.Spatial, ["wise", "full", "ties"], "ties"),
        ];

        var choice = StrategyPolicy.Choose(Shift("Medium", 2000, ("pixel_std", "ks")), history, 2, Defaults);

        Assert.Equal(["ewc", "wise"], choice.Strategies);
        Assert.Contains("ewc ×2", choice.Reason);
    }

    [Fact]
    public void A_strategy_that_keeps_losing_on_this_kind_goes_last()
    {
        var history = Enumerable.Range(0, 3).Select(_ => new TournamentHistory(ShiftKind.Spatial, ["wise", "full", "ties"], "full")).ToList();

        var choice = StrategyPolicy.Choose(Shift("Medium", 2000, ("pool_r0_c1", "ks")), history, 3, Defaults);

        Assert.Equal("full", choice.Strategies[0]);
        Assert.DoesNotContain("wise", choice.Strategies);
        Assert.DoesNotContain("ties", choice.Strategies);
        Assert.Contains("never won", choice.Reason);
    }

    [Fact]
    public void The_pool_and_priors_are_configuration()
    {
        var o = new TournamentPolicyOptions { Pool = "head, mist", Priors = new() { ["Spatial"] = "mist,head" } };

        var choice = StrategyPolicy.Choose(Shift("Medium", 2000, ("pool_r0_c1", "ks")), [], 5, o);

        Assert.Equal(["mist", "head"], choice.Strategies);
        Assert.Equal(["head", "mist", "full", "lora"], o.Named().ToArray()); // pool, priors, severity picks, high capacity
    }

    [Fact]
    public void The_winner_is_the_best_score_among_candidates_the_gate_passed()
    {
        CandidateMeasurement[] measured =
        [
            new("full", Passed: false, GainLower: 0.30, ForgettingUpper: 0.08, LatencyIncrease: 0, TrainSeconds: 20),
            new("wise", Passed: true, GainLower: 0.20, ForgettingUpper: 0.01, LatencyIncrease: 0, TrainSeconds: 20),
            new("ewc", Passed: true, GainLower: 0.15, ForgettingUpper: -0.01, LatencyIncrease: 0, TrainSeconds: 60),
        ];

        var verdict = TournamentScore.Decide(measured, new TournamentScoreOptions());

        Assert.Equal("wise", verdict.Winner);
        var wise = verdict.Candidates.Single(c => c.Strategy == "wise");
        Assert.Equal(0.20 - 0.01 - 0.002 * 20 / 60, wise.Score, 9);
        Assert.StartsWith("won", wise.Reason);
        Assert.StartsWith("lost: did not pass the gate", verdict.Candidates.Single(c => c.Strategy == "full").Reason);
        Assert.Contains("< winner wise", verdict.Candidates.Single(c => c.Strategy == "ewc").Reason);
    }

    [Fact]
    public void Forgetting_latency_and_cost_lower_the_score_and_no_pass_means_no_winner()
    {
        var w = new TournamentScoreOptions();
        var clean = TournamentScore.Of(new("a", true, 0.10, 0, 0, 0), w);
        Assert.Equal(0.10, clean, 9);
        Assert.True(TournamentScore.Of(new("a", true, 0.10, 0.02, 0, 0), w) < clean);
        Assert.True(TournamentScore.Of(new("a", true, 0.10, 0, 1.0, 0), w) < clean);
        Assert.True(TournamentScore.Of(new("a", true, 0.10, 0, 0, 600), w) < clean);
        Assert.Equal(clean, TournamentScore.Of(new("a", true, 0.10, -0.05, -0.5, 0), w), 9);

        var none = TournamentScore.Decide([new("a", false, 0.1, 0, 0, 1), new("b", false, 0.2, 0, 0, 1)], w);
        Assert.Null(none.Winner);
        Assert.All(none.Candidates, c => Assert.False(c.Won));
    }
}
