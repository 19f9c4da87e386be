using Pipeline.Artifacts;
using Pipeline.SensitivityScoring;

namespace Pipeline.ServiceLogic.Tests;

/// <summary>Replay sets and gate holdouts that cover every regime a version adapted to: bounded, class-balanced, seeded.</summary>
public class RegimeSetsTests
{
    /// <summary>Rows whose first feature says the regime (tag) and whose label cycles with the given weights.</summary>
    private static FeatureBlob Regime(int tag, int rows, Func<int, int> label)
    {
        var features = new float[rows * 3];
        var labels = new int[rows];
        for (var i = 0; i < rows; i++)
        {
            features[i * 3] = tag;
            features[(i * 3) + 1] = i;
            labels[i] = label(i);
        }

        return new FeatureBlob(rows, 3, features, labels);
    }

    private static int[] Tags(FeatureBlob b) => Enumerable.Range(0, b.Rows).Select(i => (int)b.Row(i)[0]).ToArray();

    [Fact]
    public void A_class_balanced_pick_gives_every_class_the_same_share_unless_it_has_fewer_rows()
    {
        // 900 rows of class 0, 90 of class 1, 10 of class 2.
        var labels = Enumerable.Range(0, 1000).Select(i => i < 900 ? 0 : i < 990 ? 1 : 2).ToArray();
        var picked = RegimeSets.ClassBalancedPick(labels, 150, seed: 4);
        Assert.Equal(150, picked.Length);
        Assert.Equal(picked.Length, picked.Distinct().Count());
        var counts = picked.GroupBy(i => labels[i]).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(10, counts[2]); // all it has
        Assert.Equal(70, counts[1]);
        Assert.Equal(70, counts[0]);
        Assert.Equal(picked, RegimeSets.ClassBalancedPick(labels, 150, seed: 4));
        Assert.NotEqual(picked, RegimeSets.ClassBalancedPick(labels, 150, seed: 5));
    }

    [Fact]
    public void Quotas_share_the_bound_equally_and_pass_on_what_a_small_regime_cannot_use()
    {
        Assert.Equal([2000, 2000], RegimeSets.Quotas([2000, 3000], 4000));
        Assert.Equal([1750, 500, 1750], RegimeSets.Quotas([2000, 500, 3000], 4000));
        Assert.Equal([334, 333, 333], RegimeSets.Quotas([1000, 1000, 1000], 1000));
        Assert.Equal([10, 20], RegimeSets.Quotas([10, 20], 4000));
    }

    [Fact]
    public void Accumulating_regime_after_regime_stays_bounded_balanced_and_keeps_every_regime()
    {
        var set = Regime(0, 2000, i => i % 10);
        IReadOnlyList<int>? sizes = null;
        for (var regime = 1; regime <= 4; regime++)
        {
            // Each new regime is lopsided: half its rows are class 3, the other half every class in turn.
            (set, sizes) = RegimeSets.Accumulate(set, sizes, Regime(regime, 3000, i => i % 2 == 0 ? 3 : (i / 2) % 10), 4000, seed: 1);
            Assert.True(set.Rows <= 4000);
            Assert.Equal(regime + 1, sizes.Count);
            Assert.Equal(set.Rows, sizes.Sum());
            var tags = Tags(set);
            var at = 0;
            for (var r = 0; r < sizes.Count; r++)
            {
                // Block r holds regime r's rows only, in order.
                Assert.All(tags.Skip(at).Take(sizes[r]), t => Assert.Equal(r, t));
                at += sizes[r];
            }
        }

        Assert.Equal([800, 800, 800, 800, 800], sizes);
        // Class-balanced inside the lopsided regimes: every class 80 rows.
        var last = set.Labels![3200..];
        Assert.All(Enumerable.Range(0, 10), c => Assert.Equal(80, last.Count(l => l == c)));
        var (again, _) = RegimeSets.Accumulate(Regime(0, 2000, i => i % 10), null, Regime(1, 1500, i => i % 10), 4000, seed: 1);
        var (same, _) = RegimeSets.Accumulate(Regime(0, 2000, i => i % 10), null, Regime(1, 1500, i => i % 10), 4000, seed: 1);
        Assert.Equal(again.Features, same.Features);
    }

    [Fact]
    public void Sizes_that_do_not_match_the_set_are_refused()
    {
        var ex = Assert.Throws<InvalidDataException>(() => RegimeSets.Accumulate(Regime(0, 10, i => i % 2), [4, 4], Regime(1, 5, i => 0), 100, 1));
        Assert.Contains("do not add up", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Replay_rows_in_an_adaptation_set_are_class_balanced()
    {
        var shifted = new FeatureBlob(70, 2, new float[140], Enumerable.Repeat(1, 70).ToArray());
        // A replay set where class 0 is 90 % of the rows.
        var replay = new FeatureBlob(500, 2, new float[1000], Enumerable.Range(0, 500).Select(i => i < 450 ? 0 : 1 + (i % 5)).ToArray());
        var mixed = AdaptationSetBuilder.WithReplay(shifted, replay, 0.3, seed: 3);
        Assert.Equal(100, mixed.Rows);
        // 30 replay rows over the replay set's 6 classes: 5 each (a uniform draw would give class 0 about 27).
        Assert.Equal(5, mixed.Labels!.Count(l => l == 0));
        Assert.Equal(75, mixed.Labels!.Count(l => l == 1));
        Assert.All(Enumerable.Range(2, 4), c => Assert.Equal(5, mixed.Labels!.Count(l => l == c)));

        // Scoring:ClassBalancedReplay = false keeps the uniform draw: class 0 as often as in the replay set.
        var uniform = AdaptationSetBuilder.WithReplay(shifted, replay, 0.3, seed: 3, classBalanced: false);
        Assert.Equal(100, uniform.Rows);
        Assert.InRange(uniform.Labels!.Count(l => l == 0), 20, 30);
    }

    [Fact]
    public void Version_metadata_keeps_the_regime_sizes()
    {
        var meta = new VersionMetadata { ReplayRegimeRows = [2000, 800], HoldoutRegimeRows = [2000, 500] };
        var back = VersionMetadata.Parse(meta.ToJson());
        Assert.Equal([2000, 800], back.ReplayRegimeRows!);
        Assert.Equal([2000, 500], back.HoldoutRegimeRows!);
    }
}
