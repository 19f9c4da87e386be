using System.Text.Json;
using Pipeline.Drift.Tabular;

namespace Pipeline.Drift.Tests;

public class TabularTests
{
    private static CsvTable Csv(string text) => CsvTable.Read(new StringReader(text));

    private static string Table(int n, double shift, int seed, bool unseen = false)
    {
        var r = new Random(seed);
        var sb = new System.Text.StringBuilder("x1,x2,c1\n");
        for (int i = 0; i < n; i++)
        {
            string cat = unseen && i % 5 == 0 ? "\"z,new\"" : (i % 3 == 0 ? "a" : "b");
            sb.Append(System.Globalization.CultureInfo.InvariantCulture, $"{Synth.Normal(r) + shift:R},{Synth.Normal(r):R},{cat}\n");
        }
        return sb.ToString();
    }

    [Fact]
    public void Report_json_has_the_contract_shape_and_matches_the_statistics()
    {
        var report = DriftComparer.Compare(Csv(Table(400, 0, 11)), Csv(Table(300, 1.0, 12, unseen: true)), ["c1"]);
        using var doc = JsonDocument.Parse(report.ToJson());
        var root = doc.RootElement;
        Assert.True(root.GetProperty("dataset_drift").GetBoolean());

        Assert.Equal(2.0 / 3.0, root.GetProperty("share_drifted").GetDouble(), 12);
        var features = root.GetProperty("features").EnumerateArray().ToList();
        Assert.Equal(["x1", "x2", "c1"], features.Select(f => f.GetProperty("name").GetString()));

        var x1 = features[0];
        Assert.Equal("numeric", x1.GetProperty("kind").GetString());
        Assert.True(x1.GetProperty("drifted").GetBoolean());
        Assert.True(x1.GetProperty("ks").GetProperty("p_value").GetDouble() < 1e-10);
        Assert.InRange(x1.GetProperty("ks").GetProperty("statistic").GetDouble(), 0.2, 0.7);
        Assert.InRange(x1.GetProperty("wasserstein").GetDouble(), 0.7, 1.3);
        foreach (var k in new[] { "psi", "jensen_shannon" }) Assert.Equal(JsonValueKind.Number, x1.GetProperty(k).ValueKind);
        Assert.False(x1.TryGetProperty("chi2", out _));
        Assert.False(features[1].GetProperty("drifted").GetBoolean());

        var c1 = features[2];
        Assert.Equal("categorical", c1.GetProperty("kind").GetString());
        var chi2 = c1.GetProperty("chi2");
        Assert.Equal(2, chi2.GetProperty("dof").GetInt32());
        Assert.True(chi2.GetProperty("p_value").GetDouble() < 0.05);
        Assert.False(c1.TryGetProperty("ks", out _));
        Assert.False(c1.TryGetProperty("wasserstein", out _));
        Assert.Equal("z,new", c1.GetProperty("unseen_categories")[0].GetString());
    }

    [Fact]
    public void Missing_and_infinite_cells_are_excluded_and_counted()
    {
        var reference = Csv("a,b\n1,5\n2,\n3,NaN\n4,inf\n5,6\n6,7\n");
        var current = Csv("a,b\n1,-inf\n2,NA\n3,5\n4,6\n");
        var report = DriftComparer.Compare(reference, current);
        var b = report.Features[1];
        Assert.Equal(3, b.ReferenceCount);
        Assert.Equal(3, b.ReferenceExcluded);
        Assert.Equal(2, b.CurrentCount);
        Assert.Equal(2, b.CurrentExcluded);
        var expected = Pipeline.Drift.Statistics.KolmogorovSmirnov.TwoSampleUnsorted([5, 6, 7], [5, 6]);
        Assert.Equal(expected.Statistic, b.Ks!.Statistic);
        Assert.Equal(expected.PValue, b.Ks.PValue);
    }

    [Fact]
    public void Column_with_no_finite_values_is_reported_not_evaluated()
    {
        var report = DriftComparer.Compare(Csv("a,b\n1,2\n2,3\n"), Csv("a,b\n1,\n2,NaN\n"));
        Assert.Equal("no finite values in current", report.Features[1].Error);
        Assert.Null(report.Features[1].Ks);
        Assert.Equal(1, report.EvaluatedFeatures);
        Assert.Contains("\"error\"", report.ToJson(), StringComparison.Ordinal);
    }

    [Fact]
    public void Mismatched_columns_and_bad_numbers_are_clear_errors()
    {
        var e = Assert.Throws<Pipeline.Drift.DriftInputException>(() => DriftComparer.Compare(Csv("a,b\n1,2\n"), Csv("a,c\n1,2\n")));
        Assert.Contains("missing in current: b", e.Message, StringComparison.Ordinal);
        Assert.Contains("not in reference: c", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<Pipeline.Drift.DriftInputException>(() => DriftComparer.Compare(Csv("a\n1\nxyz\n"), Csv("a\n1\n")));
        Assert.Contains("'xyz' is not a number", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<Pipeline.Drift.DriftInputException>(() => Csv("a,b\n1,2\n3\n"));
        Assert.Contains("line 3 has 1 fields", e.Message, StringComparison.Ordinal);
        Assert.Throws<Pipeline.Drift.DriftInputException>(() => DriftComparer.Compare(Csv("a\n1\n"), Csv("a\n1\n"), ["nope"]));
    }

    [Fact]
    public void Bonferroni_and_alternative_tests_change_the_decision()
    {
        var reference = Csv(Table(300, 0, 3));
        var current = Csv(Table(300, 0.25, 4));
        var plain = DriftComparer.Compare(reference, current, ["c1"]);
        var strict = DriftComparer.Compare(reference, current, ["c1"], new DriftDecisionOptions { Bonferroni = true, NumericThreshold = 1e-3 });
        Assert.True(plain.Features[0].Drifted);
        Assert.False(strict.Features[0].Drifted);
        var psi = DriftComparer.Compare(reference, current, ["c1"], new DriftDecisionOptions { NumericTest = NumericTest.Psi, NumericThreshold = 10 });
        Assert.False(psi.Features[0].Drifted);
    }
}
