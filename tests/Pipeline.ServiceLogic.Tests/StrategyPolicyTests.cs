using Pipeline.AdaptationRuns;
using Pipeline.Contracts;
using Pipeline.Drift.Tournament;

namespace Pipeline.ServiceLogic.Tests;

/// <summary>The tournament's entrants: the model's own history first, then the benchmark's evidence.</summary>
public class StrategyPolicyTests
{
    private static readonly TournamentPolicyOptions Defaults = new();

    private static ShiftSignature Shift(string severity, int? rows, params (string Name, string Test)[] moved) =>
        ShiftSignature.From(severity, 0.5, moved.Select(m => new MovedFeature(m.Name, m.Test)).ToList(), rows);

    private static EvidenceRow Row(string kind, string severity, string strategy, double gain, double forgetting, int n = 6) =>
        new() { Kind = kind, Severity = severity, Regime = $"{kind}-{severity}", Strategy = strategy, N = n, Gain = gain, Forgetting = forgetting };

    /// <summary>Made-up evidence: on spatial shifts full learns most but forgets; on intensity shifts ewc is best.</summary>
    private static readonly EvidenceRow[] Evidence =
    [
        Row("Spatial", "High", "full", 0.40, 0.15),
        Row("Spatial", "High", "wise", 0.35, 0.05),
        Row("Spatial", "High", "ties", 0.31, 0.05),
        Row("Spatial", "Medium", "ties", 0.10, 0.00),
        Row("Spatial", "Medium", "full", 0.11, 0.04),
        Row("Intensity", "High", "ewc", 0.30, 0.01),
        Row("Intensity", "High", "wise", 0.27, 0.02),
        Row("Intensity", "High", "head", 0.40, 0.20),
    ];

    [Fact]
    public void Without_history_the_evidence_for_the_kind_and_severity_ranks_by_gain_minus_forgetting()
    {
        var spatialHigh = StrategyPolicy.Choose(Shift("High", 2000, ("pool_r1_c1", "ks")), [], 3, Defaults, Evidence);
        Assert.Equal(["wise", "ties", "full"], spatialHigh.Strategies); // 0.30, 0.26, 0.25
        Assert.Contains("evidence (spatial, high)", spatialHigh.Reason);

        var spatialMedium = StrategyPolicy.Choose(Shift("Medium", 2000, ("pool_r1_c1", "ks")), [], 2, Defaults, Evidence);
        Assert.Equal(["ties", "full"], spatialMedium.Strategies);

        // No row for this severity: the kind's rows at any severity.
        var intensityLow = StrategyPolicy.Choose(Shift("Low", 2000, ("pixel_mean", "ks")), [], 2, Defaults, Evidence);
        Assert.Equal(["ewc", "wise"], intensityLow.Strategies);
        Assert.Contains("intensity, any severity", intensityLow.Reason);
    }

    /// <summary>Made-up tabular evidence: on the tabular regime's shifts the readouts are best, full is worst.</summary>
    private static readonly EvidenceRow[] TabularEvidence =
    [
        Row("Tabular", "High", "ridge", 0.35, 0.01),
        Row("Tabular", "High", "mist-ridge", 0.34, 0.01),
        Row("Tabular", "High", "lora", 0.20, 0.01),
        Row("Tabular", "High", "ewc", 0.05, 0.00),
        Row("Tabular", "Low", "full", 0.02, 0.00),
        Row("Tabular", "Low", "wise", 0.01, 0.00),
    ];

    [Fact]
    public void A_tabular_shift_ranks_by_the_tabular_evidence_and_an_image_shift_never_reads_it()
    {
        var all = Evidence.Concat(TabularEvidence).ToList();
        var mean = StrategyPolicy.Choose(Shift("High", 1000, ("x0", "ks"), ("x1", "ks")), [], 3, Defaults, all);
        Assert.Equal(["ridge", "mist-ridge", "lora"], mean.Strategies);
        Assert.Contains("tabular shift", mean.Reason);
        Assert.Contains("evidence (tabular, high)", mean.Reason);

        // Beyond the kind's rows, the rest of the tabular evidence, not the image rows (ewc leads the image table).
        var medium = StrategyPolicy.Choose(Shift("Medium", 1000, ("plan", "chi2")), [], 6, Defaults, all);
        Assert.Contains("tabular, any severity", medium.Reason);
        Assert.Equal(["ridge", "mist-ridge", "lora", "ewc", "full", "wise"], medium.Strategies);

        // An image shift chooses as it did without the tabular rows, also where it has no evidence of its own.
        foreach (var image in new[] { Shift("High", 2000, ("pool_r1_c1", "ks")), Shift("High", 2000, ("embedding", "mmd")) })
            Assert.Equal(StrategyPolicy.Choose(image, [], 4, Defaults, Evidence), StrategyPolicy.Choose(image, [], 4, Defaults, all), PolicyChoiceComparer.Instance);

        // A tabular shift without tabular evidence does not borrow the image rows.
        var none = StrategyPolicy.Choose(Shift("High", 1000, ("x0", "ks")), [], 3, Defaults, Evidence);
        Assert.Contains("no evidence for this shift", none.Reason);
        Assert.Equal(Defaults.PoolList().Take(3), none.Strategies);
    }

    private sealed class PolicyChoiceComparer : IEqualityComparer<PolicyChoice>
    {
        public static readonly PolicyChoiceComparer Instance = new();

        public bool Equals(PolicyChoice? x, PolicyChoice? y) =>
            x is not null && y is not null && x.Strategies.SequenceEqual(y.Strategies) && x.Reason == y.Reason;

        public int GetHashCode(PolicyChoice obj) => obj.Reason.GetHashCode(StringComparison.Ordinal);
    }

    [Fact]
    public void A_kind_without_evidence_takes_the_best_over_every_shift_then_the_pool()
    {
        var choice = StrategyPolicy.Choose(Shift("High", 2000, ("embedding", "mmd")), [], 4, Defaults, Evidence);

        Assert.Contains("no evidence for this shift", choice.Reason);
        Assert.Equal(4, choice.Strategies.Count);
        Assert.Equal("ewc", choice.Strategies[0]); // best gain − forgetting over all rows
    }

    [Fact]
    public void A_small_label_budget_keeps_the_registry_s_high_capacity_strategies_out()
    {
        var choice = StrategyPolicy.Choose(Shift("High", 120, ("pool_r1_c1", "ks")), [], 3, Defaults, Evidence);

        Assert.DoesNotContain("full", choice.Strategies);
        Assert.DoesNotContain("lora", choice.Strategies);
        Assert.Equal(3, choice.Strategies.Count);
        Assert.Contains("120 labelled rows < 300", choice.Reason);
    }

    [Fact]
    public void The_model_s_own_winners_on_the_same_kind_take_precedence_over_the_evidence()
    {
        TournamentHistory[] history =
        [
            new(ShiftKind.Intensity, ["ewc", "wise", "head"], "head"),
            new(ShiftKind.Intensity, ["ewc", "wise", "head"], "head"),
            new(ShiftKind.Spatial, ["wise", "full", "ties"], "ties"),
        ];

        var choice = StrategyPolicy.Choose(Shift("High", 2000, ("pixel_std", "ks"), ("pixel_mean", "ks")), history, 2, Defaults, Evidence);

        Assert.Equal(["head", "ewc"], choice.Strategies);
        Assert.Contains("head ×2", choice.Reason);
    }

    [Fact]
    public void A_strategy_that_keeps_losing_on_this_kind_goes_last()
    {
        var history = Enumerable.Range(0, 3).Select(_ => new TournamentHistory(ShiftKind.Spatial, ["wise", "full", "ties"], "full")).ToList();

        var choice = StrategyPolicy.Choose(Shift("High", 2000, ("pool_r0_c1", "ks")), history, 3, Defaults, Evidence);

        Assert.Equal("full", choice.Strategies[0]);
        Assert.DoesNotContain("wise", choice.Strategies);
        Assert.DoesNotContain("ties", choice.Strategies);
        Assert.Contains("never won", choice.Reason);
    }

    [Fact]
    public void The_pool_is_configuration_and_defaults_to_the_registry_s_servable_strategies()
    {
        Assert.Equal(StrategyRegistry.Servable, Defaults.PoolList());
        Assert.DoesNotContain("retrain", Defaults.PoolList());

        var o = new TournamentPolicyOptions { Pool = "head, ties" };
        var choice = StrategyPolicy.Choose(Shift("Medium", 2000, ("pool_r0_c1", "ks")), [], 5, o, Evidence);
        Assert.Equal(["ties", "head"], choice.Strategies);
    }

    [Fact]
    public void With_the_shipped_evidence_a_readout_enters_first_on_the_benchmark_s_severe_shifts()
    {
        var shipped = StrategyEvidence.Load(null);
        Assert.NotEmpty(shipped.Rows);
        Assert.All(shipped.Rows, r => Assert.NotNull(StrategyRegistry.Find(r.Strategy)));

        var rotation = StrategyPolicy.Choose(Shift("High", 1000, ("pool_r1_c1", "ks"), ("pool_r2_c3", "ks")), [], 3, Defaults, shipped.Rows);
        var noise = StrategyPolicy.Choose(Shift("High", 1000, ("pixel_std", "ks"), ("ink_fraction", "ks")), [], 3, Defaults, shipped.Rows);

        // rotate-30: mist-ridge 0.341, ridge 0.335 (0.57 points, beyond the half-point tie tolerance): mist-ridge first;
        // noise and contrast: the frozen backbone's readout alone (ridge) is ahead, at 1/28 of mist-ridge's sample passes.
        Assert.Equal(["mist-ridge", "ridge"], rotation.Strategies.Take(2));
        Assert.Equal(["ridge", "mist-ridge"], noise.Strategies.Take(2));
        Assert.DoesNotContain("retrain", rotation.Strategies); // measured, but not servable
    }

    [Fact]
    public void Scores_closer_than_the_tie_tolerance_rank_the_cheaper_strategy_first_and_a_real_lead_still_wins()
    {
        static EvidenceRow Priced(string strategy, double gain, double passes) =>
            Row("Spatial", "High", strategy, gain, 0.01) with { PassesVsRetrain = passes };
        var shift = Shift("High", 1000, ("pool_r1_c1", "ks"), ("pool_r2_c3", "ks"));

        var tie = StrategyPolicy.Choose(shift, [], 3, Defaults, [Priced("mist-ridge", 0.351, 0.148), Priced("ridge", 0.350, 0.005), Priced("wise", 0.30, 0.08)]);
        Assert.Equal(["ridge", "mist-ridge", "wise"], tie.Strategies);

        var lead = StrategyPolicy.Choose(shift, [], 3, Defaults, [Priced("mist-ridge", 0.37, 0.148), Priced("ridge", 0.35, 0.005), Priced("wise", 0.30, 0.08)]);
        Assert.Equal(["mist-ridge", "ridge", "wise"], lead.Strategies);

        var exact = StrategyPolicy.Choose(shift, [], 3, new TournamentPolicyOptions { TieTolerance = 0 },
            [Priced("mist-ridge", 0.351, 0.148), Priced("ridge", 0.350, 0.005)]);
        Assert.Equal(["mist-ridge", "ridge"], exact.Strategies.Take(2));
    }

    [Fact]
    public void With_the_shipped_evidence_the_user_s_tabular_shift_enters_what_fixed_the_tabular_regime()
    {
        var shipped = StrategyEvidence.Load(null);
        Assert.Contains(shipped.Rows, r => r is { Kind: "Tabular", Regime: "tabular-mean", Severity: "High" });

        // A user's tabular shift: x0 and x1 moved, the predictions with them; 1,000 labelled rows.
        var mean = StrategyPolicy.Choose(Shift("High", 1000, ("x0", "ks"), ("x1", "ks"), ("prediction", "prediction")), [], 3, Defaults, shipped.Rows);

        Assert.Contains("evidence (tabular, high)", mean.Reason);
        // The strategies the tabular regime measured at the top of the tabular-mean rows (gain − forgetting 0.34–0.37,
        // five full-budget runs), never the prototype readouts, which forget 14 points there.
        Assert.Subset(new HashSet<string> { "mist-ridge", "ridge", "lora", "full" }, mean.Strategies.ToHashSet());
        Assert.Equal(3, mean.Strategies.Count);
    }
}
