using Pipeline.Drift.Monitoring;
using Pipeline.Drift.Statistics;

namespace Pipeline.Drift.Tests;

public class ProfileTests
{
    [Fact]
    public void Profile_round_trips_through_json()
    {
        var rows = Synth.Rows(2000, 4, 0, 30);
        var p = ReferenceProfile.Build("m", 3, rows, new ProfileOptions { MaxSortedSample = 500, CategoricalFeatures = new HashSet<int> { 3 } });
        var json = p.ToJson();
        Assert.Contains("\"model_version\":3", json, StringComparison.Ordinal);
        var q = ReferenceProfile.FromJson(json);
        Assert.Equal(p.Features.Count, q.Features.Count);
        for (int i = 0; i < p.Features.Count; i++)
        {
            Assert.Equal(p.Features[i].Sorted, q.Features[i].Sorted);
            Assert.Equal(p.Features[i].BinEdges, q.Features[i].BinEdges);
            Assert.Equal(p.Features[i].BinProportions, q.Features[i].BinProportions);
            Assert.Equal(p.Features[i].Kind, q.Features[i].Kind);
        }
        Assert.Equal(p.Predictions!.ClassCounts, q.Predictions!.ClassCounts);
        Assert.Equal(p.Multivariate!.Sample.Count, q.Multivariate!.Sample.Count);
        Assert.Equal(p.Summary, q.Summary with { FeatureNames = p.Summary.FeatureNames });
    }

    [Fact]
    public void Sketch_ks_statistic_is_within_stated_bound_of_full_sample()
    {
        var r = new Random(31);
        var full = Enumerable.Range(0, 50_000).Select(_ => Synth.Normal(r)).ToArray();
        Array.Sort(full);
        var (sketch, isSketch) = ReferenceProfile.SortedOrSketch(full, 1000);
        Assert.True(isSketch);
        double bound = 1.0 / (2 * 1000);
        for (int t = 0; t < 20; t++)
        {
            var cur = Enumerable.Range(0, 700).Select(_ => Synth.Normal(r) * (1 + 0.02 * t) + 0.01 * t).ToArray();
            Array.Sort(cur);
            double exact = KolmogorovSmirnov.TwoSample(full, cur).Statistic;
            double approx = KolmogorovSmirnov.StatisticNumerator(sketch, cur) / (1000.0 * cur.Length);
            Assert.True(Math.Abs(exact - approx) <= bound + 1e-12, $"|{exact} - {approx}| > {bound}");
        }
    }

    [Fact]
    public void Profile_bins_match_direct_computation()
    {
        var rows = Synth.Rows(3000, 2, 0, 32);
        var p = ReferenceProfile.Build("m", 1, rows);
        var col = rows.Select(x => (double)x.Features[1]).ToArray();
        Array.Sort(col);
        Assert.Equal(Binning.DecileEdges(col), p.Features[1].BinEdges);
        Assert.Equal(col, p.Features[1].Sorted);
        Assert.False(p.Features[1].IsSketch);
        Assert.Equal(0.0, p.Features[1].KsErrorBound);
    }
}
