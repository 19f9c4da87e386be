using Pipeline.Drift.Tournament;
using Xunit;

namespace Pipeline.Drift.Tests;

public class TournamentPolicyTests
{
    private static ShiftSignature Shift(string severity, int? rows, params (string Name, string Test)[] moved) =>
        ShiftSignature.From(severity, 0.5, moved.Select(m => new MovedFeature(m.Name, m.Test)).ToList(), rows);

    [Fact]
    public void The_report_s_features_tell_the_kind_of_shift()
    {
        Assert.Equal(ShiftKind.Intensity, Shift("High", null, ("pixel_mean", "ks"), ("ink_fraction", "ks")).Kind);
        Assert.Equal(ShiftKind.Intensity, Shift("High", null, ("pixel_std", "ks")).Kind);
        Assert.Equal(ShiftKind.Spatial, Shift("High", null, ("pool_r1_c2", "ks"), ("pool_r0_c0", "ks")).Kind);
        // One intensity statistic beside moved cells is a spatial shift (a rotation changes the ink fraction a little).
        Assert.Equal(ShiftKind.Spatial, Shift("High", null, ("pool_r1_c2", "ks"), ("ink_fraction", "ks")).Kind);
        Assert.Equal(ShiftKind.Embedding, Shift("Medium", null, ("embedding", "mmd")).Kind);
        Assert.Equal(ShiftKind.Unknown, Shift("Medium", null).Kind);
    }

    [Fact]
    public void Moved_columns_of_a_tabular_model_read_as_tabular_and_image_features_keep_their_kinds()
    {
        // A user's tabular shift: two numeric columns (KS) moved, the predictions with them.
        Assert.Equal(ShiftKind.Tabular, Shift("High", 1000, ("x0", "ks"), ("x1", "ks"), ("prediction", "prediction")).Kind);
        Assert.Equal(ShiftKind.Tabular, Shift("Low", 1000, ("plan", "chi2")).Kind); // a categorical mix change
        Assert.Equal(ShiftKind.Tabular, Shift("Medium", null, ("embedding", "mmd"), ("income", "ks")).Kind);
        // Names of the image summary are never columns; an embedding dimension tested by KS is no column either.
        Assert.Equal(ShiftKind.Spatial, Shift("High", null, ("pool_r1_c2", "ks"), ("x0", "ks")).Kind);
        Assert.Equal(ShiftKind.Intensity, Shift("High", null, ("pixel_mean", "ks"), ("pixel_std", "ks"), ("x0", "ks")).Kind);
        Assert.Equal(ShiftKind.Embedding, Shift("High", null, ("embedding_3", "ks"), ("prediction", "prediction")).Kind);
        Assert.True(ShiftSignature.IsImageFeature("ink_fraction"));
        Assert.False(ShiftSignature.IsImageFeature("plan"));
    }

    [Fact]
    public void Every_drifted_feature_counts_and_cells_that_move_with_intensity_do_not_make_it_mixed()
    {
        // A contrast change: the three intensity statistics and every cell moved; the cells moved less.
        var contrast = Enumerable.Range(0, 49).Select(i => new MovedFeature($"pool_r{i / 7}_c{i % 7}", "ks", 0.3))
            .Concat([new MovedFeature("pixel_std", "ks", 0.9), new MovedFeature("pixel_mean", "ks", 0.6), new MovedFeature("ink_fraction", "ks", 0.5)])
            .ToList();
        var read = ShiftSignature.From("High", 0.8, contrast);
        Assert.Equal(ShiftKind.Intensity, read.Kind);
        Assert.Equal(52, read.Moved.Count);

        // The same, but a cell moved more than any intensity statistic: both kinds of change.
        var mixed = contrast.Append(new MovedFeature("pool_r3_c3", "ks", 0.95)).ToList();
        Assert.Equal(ShiftKind.Mixed, ShiftSignature.From("High", 0.8, mixed).Kind);
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
