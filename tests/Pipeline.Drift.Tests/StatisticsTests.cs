using Pipeline.Drift.Statistics;

namespace Pipeline.Drift.Tests;

public class StatisticsTests
{
    [Fact]
    public void Radix_sort_matches_array_sort_including_negatives_zeros_and_ties()
    {
        var r = new Random(40);
        var v = Enumerable.Range(0, 20_000).Select(i => i % 7 == 0 ? 0.0 : i % 11 == 0 ? -0.0 : Math.Round(Synth.Normal(r) * 100, i % 3)).ToArray();
        v[5] = double.MaxValue;
        v[6] = double.MinValue;
        v[7] = double.Epsilon;
        var expected = (double[])v.Clone();
        Array.Sort(expected);
        RadixSort.Sort(v);
        Assert.Equal(expected, v);
    }

    [Fact]
    public void Exact_p_value_is_a_valid_null_distribution()
    {
        // P(D >= smallest possible positive d) must be 1; P(D = 1) for n1 = n2 = 5 is 2/C(10,5).
        Assert.Equal(1.0, KolmogorovSmirnov.ExactPValue(5, 5, 5), 12);
        Assert.Equal(2.0 / 252.0, KolmogorovSmirnov.ExactPValue(5, 5, 25), 12);
        // Monotone decreasing in d.
        double prev = 1.0;
        for (long num = 1; num <= 7 * 9; num++)
        {
            double p = KolmogorovSmirnov.ExactPValue(7, 9, num);
            Assert.True(p <= prev + 1e-15);
            prev = p;
        }
    }

    [Fact]
    public void Under_the_null_ks_p_values_are_roughly_uniform()
    {
        var r = new Random(41);
        int below = 0, trials = 400;
        for (int t = 0; t < trials; t++)
        {
            var a = Enumerable.Range(0, 60).Select(_ => Synth.Normal(r)).ToArray();
            var b = Enumerable.Range(0, 45).Select(_ => Synth.Normal(r)).ToArray();
            if (KolmogorovSmirnov.TwoSampleUnsorted(a, b).PValue < 0.05) below++;
        }
        Assert.InRange(below, 8, 35); // 5% of 400 = 20
    }

    [Fact]
    public void Empty_sample_is_an_error()
    {
        Assert.Throws<ArgumentException>(() => KolmogorovSmirnov.TwoSample([], [1.0]));
        Assert.Throws<ArgumentException>(() => Binning.DecileEdges([]));
    }

    [Fact]
    public void Mmd_separates_shifted_and_accepts_null()
    {
        var r = new Random(42);
        float[] Pt(double s) => [(float)(Synth.Normal(r) + s), (float)Synth.Normal(r), (float)Synth.Normal(r)];
        var x = Enumerable.Range(0, 150).Select(_ => Pt(0)).ToList();
        var y0 = Enumerable.Range(0, 150).Select(_ => Pt(0)).ToList();
        var y1 = Enumerable.Range(0, 150).Select(_ => Pt(0.8)).ToList();
        var nul = Mmd.Test(x, y0, 200, 1);
        var alt = Mmd.Test(x, y1, 200, 1);
        Assert.True(nul.PValue > 0.05, $"null p {nul.PValue}");
        Assert.True(alt.PValue < 0.01, $"alt p {alt.PValue}");
        Assert.True(alt.Mmd2 > nul.Mmd2);
        Assert.True(alt.Bandwidth > 0);
    }

    [Fact]
    public void Psi_floor_makes_empty_bins_finite()
    {
        double psi = Binning.Psi([0.5, 0.5, 0.0], [0.0, 0.5, 0.5]);
        Assert.True(double.IsFinite(psi));
        Assert.Equal(2 * (0.5 - 1e-4) * Math.Log(0.5 / 1e-4), psi, 12);
        Assert.Equal(0.0, Binning.JensenShannon([0.2, 0.8], [0.2, 0.8]));
        Assert.Equal(1.0, Binning.JensenShannon([1, 0], [0, 1]), 12);
    }
}

public class RadixFloatTests
{
    [Fact]
    public void Float_radix_sort_matches_array_sort()
    {
        var r = new Random(43);
        var v = Enumerable.Range(0, 10_000).Select(i => i % 5 == 0 ? -0f : (float)Math.Round(Synth.Normal(r) * 50, i % 2)).ToArray();
        v[1] = float.MaxValue;
        v[2] = float.MinValue;
        var expected = (float[])v.Clone();
        Array.Sort(expected);
        Pipeline.Drift.Statistics.RadixSort.Sort(v.AsSpan());
        Assert.Equal(expected.Select(x => (double)x), v.Select(x => (double)x));
    }

    [Fact]
    public void Benchmark_data_is_deterministic_and_statistics_agree_with_direct_path()
    {
        var o = new Pipeline.Drift.Benchmark.DriftBenchOptions { Features = 3, ReferenceRows = 2000, CurrentRows = 5000, Seed = 9 };
        var (r1, c1) = Pipeline.Drift.Benchmark.DriftBenchmark.GenerateData(o);
        var (r2, _) = Pipeline.Drift.Benchmark.DriftBenchmark.GenerateData(o);
        Assert.Equal(r1[2], r2[2]);
        var stats = Pipeline.Drift.Benchmark.DriftBenchmark.ComputeAll(r1, c1);
        for (int f = 0; f < 3; f++)
        {
            var a = r1[f].Select(x => (double)x).ToArray();
            var b = c1[f].Select(x => (double)x).ToArray();
            Assert.Equal(Pipeline.Drift.Statistics.KolmogorovSmirnov.TwoSampleUnsorted(a, b), stats[f].Ks);
            Assert.Equal(Pipeline.Drift.Statistics.Wasserstein.DistanceUnsorted(a, b), stats[f].Wasserstein, 12);
        }
    }
}
