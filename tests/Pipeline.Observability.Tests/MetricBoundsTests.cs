using Pipeline.DriftDetection;
using Pipeline.Drift.Monitoring;

namespace Pipeline.Observability.Tests;

/// <summary>The label sets of DriftDetection's per-feature and per-version metrics stay what the docs promise.</summary>
public sealed class MetricBoundsTests
{
    private static FeatureScore Feature(string name, bool drifted, double pValue, double ks) =>
        new(name, "numeric", drifted, ks, pValue, null, null, null, null, 100, 0, null, null);

    private static List<string> Exported(string model) =>
        [.. DriftMetrics.FeatureScore.GetAllLabelValues().Where(l => l[0] == model).Select(l => l[1]).Order(StringComparer.Ordinal)];

    [Fact]
    public void Per_feature_drift_has_a_series_for_the_top_k_features_of_the_latest_window_only()
    {
        const string model = "top-k-test";
        // f0..f19 drifted, smallest p-values first; f45 has a smaller p-value than any but did not drift.
        var first = Enumerable.Range(0, 50).Select(i => Feature($"f{i}", i < 20, i == 45 ? 1e-9 : (i + 1) / 100.0, 1 - i / 100.0)).ToList();
        DriftMetrics.RecordTopFeatures(model, first, 3);
        Assert.Equal(["f0", "f1", "f2"], Exported(model));

        // The next window drifts elsewhere: the old features lose their series, at most k remain.
        var second = Enumerable.Range(0, 50).Select(i => Feature($"f{i}", i >= 40, (51 - i) / 100.0, i / 100.0)).ToList();
        DriftMetrics.RecordTopFeatures(model, second, 3);
        Assert.Equal(["f47", "f48", "f49"], Exported(model));
        Assert.Equal(0.49, DriftMetrics.FeatureScore.WithLabels(model, "f49").Value, 10);

        DriftMetrics.RecordTopFeatures(model, second, 0);
        Assert.Empty(Exported(model));
    }

    [Fact]
    public void Labels_count_per_model_and_predicting_version_and_unlabelled_rows_do_not_count()
    {
        const string model = "labels-test";
        DriftMetrics.RecordLabels(model, 3, [1, 2, 3, 4, 5], [1, -1, 0, 4, -1]);
        DriftMetrics.RecordLabels(model, 4, [7, 7], [7, 7]);
        DriftMetrics.RecordLabels(model, 4, [7], null);

        Assert.Equal(3, DriftMetrics.LabelledRows.WithLabels(model, "3").Value);
        Assert.Equal(2, DriftMetrics.CorrectRows.WithLabels(model, "3").Value);
        Assert.Equal(2, DriftMetrics.LabelledRows.WithLabels(model, "4").Value);
        Assert.Equal(2, DriftMetrics.CorrectRows.WithLabels(model, "4").Value);
    }
}
