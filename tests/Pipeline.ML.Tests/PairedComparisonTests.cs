using Pipeline.ML.Evaluation;

namespace Pipeline.ML.Tests;

public class PairedComparisonTests
{
    [Theory]
    // Reference values from an independent Python implementation (scipy.stats.norm for z) of
    // Newcombe's method 10; tables as (both right, only candidate right, only baseline right, both wrong).
    [InlineData(12, 9, 2, 21, 0.159090909, 0.018210226, 0.289156660)]
    [InlineData(1, 1, 7, 12, -0.285714286, -0.501662540, -0.036052553)]
    public void Interval_matches_an_independent_implementation(int a, int b, int c, int d, double diff, double lower, double upper)
    {
        var r = PairedComparison.FromCounts(a, b, c, d);
        Assert.Equal(diff, r.Difference, 8);
        Assert.Equal(lower, r.Lower, 8);
        Assert.Equal(upper, r.Upper, 8);
    }

    [Fact]
    public void Compare_counts_the_paired_table_from_per_row_correctness()
    {
        bool[] baseline = [true, true, false, false, true];
        bool[] candidate = [true, false, true, true, true];
        var r = PairedComparison.Compare(baseline, candidate);
        Assert.Equal((2, 2, 1, 0), (r.BothRight, r.OnlyCandidateRight, r.OnlyBaselineRight, r.BothWrong));
        Assert.Equal(0.6, r.BaselineAccuracy, 12);
        Assert.Equal(0.8, r.CandidateAccuracy, 12);
        Assert.Equal(0.2, r.Difference, 12);
        Assert.Equal(3, r.Discordant);
        Assert.Throws<ArgumentException>(() => PairedComparison.Compare([true], [true, false]));
    }

    [Fact]
    public void The_interval_covers_the_true_difference_at_about_the_nominal_rate()
    {
        // 2000 simulated holdouts of 300 rows: candidate alone right on 8 % of rows, production alone on 5 %.
        var random = new Random(20261123);
        const int replications = 2000;
        const double onlyCandidate = 0.08, onlyBaseline = 0.05, bothRight = 0.70;
        var covered = 0;
        for (var rep = 0; rep < replications; rep++)
        {
            int a = 0, b = 0, c = 0, d = 0;
            for (var i = 0; i < 300; i++)
            {
                var u = random.NextDouble();
                if (u < bothRight) a++;
                else if (u < bothRight + onlyCandidate) b++;
                else if (u < bothRight + onlyCandidate + onlyBaseline) c++;
                else d++;
            }

            var r = PairedComparison.FromCounts(a, b, c, d);
            if (r.Lower <= onlyCandidate - onlyBaseline && onlyCandidate - onlyBaseline <= r.Upper) covered++;
        }

        var coverage = (double)covered / replications;
        Assert.InRange(coverage, 0.93, 0.975);
    }

    [Fact]
    public void More_rows_give_a_narrower_interval_and_a_higher_level_a_wider_one()
    {
        var small = PairedComparison.FromCounts(70, 8, 5, 17);
        var large = PairedComparison.FromCounts(700, 80, 50, 170);
        Assert.True(large.Upper - large.Lower < small.Upper - small.Lower);
        var wide = PairedComparison.FromCounts(700, 80, 50, 170, confidence: 0.99);
        Assert.True(wide.Upper - wide.Lower > large.Upper - large.Lower);
    }

    [Fact]
    public void Required_rows_follow_from_precision_and_discordance()
    {
        Assert.Equal(361, PairedComparison.RequiredRows(0.04, 0.15));
        Assert.Equal(1537, PairedComparison.RequiredRows(0.02, 0.16));
        Assert.Throws<ArgumentOutOfRangeException>(() => PairedComparison.RequiredRows(0, 0.1));
    }

    [Fact]
    public void By_class_compares_the_rows_of_each_true_class()
    {
        bool[] baseline = [true, true, true, false];
        bool[] candidate = [true, false, true, true];
        long[] truth = [0, 0, 1, 1];
        var byClass = PairedComparison.CompareByClass(baseline, candidate, truth, classes: 3);
        Assert.Equal(-0.5, byClass[0].Difference, 12);
        Assert.Equal(0.5, byClass[1].Difference, 12);
        Assert.Equal(0, byClass[2].Count);
    }
}
