using System.Text.Json.Nodes;

namespace Pipeline.Observability.Tests;

/// <summary>Static checks of the dashboard and the rules; the PromQL itself is checked by Prometheus in <see cref="EndToEndTests"/>.</summary>
public sealed class DashboardTests
{
    [Fact]
    public void Dashboard_is_provisionable_and_every_panel_queries_the_provisioned_datasource()
    {
        var dashboard = Assets.Dashboard();
        Assert.Equal("pipeline-overview", dashboard["uid"]!.GetValue<string>());
        Assert.InRange(dashboard["schemaVersion"]!.GetValue<int>(), 36, 41);

        var panels = Assets.Panels(dashboard).ToList();
        var ids = panels.Select(p => p["id"]!.GetValue<int>()).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
        foreach (var panel in panels.Where(p => p["type"]!.GetValue<string>() != "row"))
        {
            var title = panel["title"]!.GetValue<string>();
            Assert.Equal("prometheus", panel["datasource"]?["uid"]?.GetValue<string>());
            var targets = panel["targets"]?.AsArray() ?? [];
            Assert.True(targets.Count > 0, $"panel '{title}' has no query");
            foreach (var target in targets)
            {
                Assert.Equal("prometheus", target!["datasource"]?["uid"]?.GetValue<string>());
                Assert.False(string.IsNullOrWhiteSpace(target["expr"]?.GetValue<string>()), $"panel '{title}' has an empty query");
            }

            var grid = panel["gridPos"]!.AsObject();
            Assert.InRange(grid["x"]!.GetValue<int>() + grid["w"]!.GetValue<int>(), 1, 24);
        }

        // The datasource uid the dashboard uses is the one provisioning creates.
        var datasources = File.ReadAllText(Path.Combine(Assets.RepoRoot, "infra", "grafana", "provisioning", "datasources", "prometheus.yml"));
        Assert.Contains("uid: prometheus", datasources, StringComparison.Ordinal);
    }

    [Fact]
    public void Dashboard_has_the_panels_an_operator_needs()
    {
        var exprs = string.Join('\n', Assets.DashboardExprs().Select(e => e.Expr));
        foreach (var needed in new[]
                 {
                     "pipeline_drift_share_drifted", "pipeline_drift_dataset_score", "pipeline_drift_windows_total", "pipeline_drift_decisions_total",
                     "pipeline_adaptation_runs_started_total", "pipeline_consumed_messages_total",
                     "pipeline_consume_duration_seconds_bucket", "pipeline_invalid_messages_total", "inference_predictions_total",
                     "inference_model_version", "inference_request_duration_seconds_bucket", "inference_model_swaps_total", "up{",
                     "pipeline_approvals_pending", "pipeline_approval_oldest_age_seconds", "pipeline_approval_timeout_seconds",
                     "pipeline_feedback_correct_rows_total", "pipeline_feedback_labelled_rows_total", "pipeline_live_accuracy",
                     "pipeline_reference_accuracy", "pipeline_gate_gain", "pipeline_gate_forgetting", "pipeline_gate_decisions_total",
                     "pipeline_drift_feature_score", "rabbitmq_detailed_queue_messages{queue=~\".+_error\"}",
                 })
        {
            Assert.Contains(needed, exprs, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Every_metric_the_dashboard_and_the_alerts_use_is_exported_by_the_code()
    {
        var known = new HashSet<string>(Assets.DeclaredMetricNames(), StringComparer.Ordinal);
        Assert.Contains("inference_predictions_total", known);
        Assert.Contains("pipeline_consume_duration_seconds_bucket", known);
        known.UnionWith(Assets.BuiltInMetricNames);
        known.UnionWith(Assets.BrokerMetricNames);

        var unknown = Assets.AllExprs()
            .SelectMany(e => Assets.MetricNames(e.Expr).Where(n => !known.Contains(n)).Select(n => $"{n} in {e}"))
            .ToList();

        Assert.True(unknown.Count == 0, "metrics nobody exports:\n" + string.Join('\n', unknown));
    }

    [Fact]
    public void Metric_name_extraction_ignores_functions_labels_and_grouping()
    {
        var names = Assets.MetricNames(
            "histogram_quantile(0.95, sum by (le, endpoint) (rate(inference_request_duration_seconds_bucket{code=~\"5..\"}[$__rate_interval])))" +
            " unless on (model_id) max by (model_id) (inference_model_version > 0)");

        Assert.Equal(["inference_model_version", "inference_request_duration_seconds_bucket"], names.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Every_alert_has_a_severity_and_a_summary()
    {
        var rules = File.ReadAllText(Assets.RulesPath);
        var alerts = Assets.AlertExprs();
        Assert.True(alerts.Count >= 10, $"{alerts.Count} rules");
        Assert.Equal(alerts.Count, System.Text.RegularExpressions.Regex.Matches(rules, @"severity: (critical|warning|info)").Count);
        Assert.Equal(alerts.Count, System.Text.RegularExpressions.Regex.Matches(rules, @"\n\s+summary: ").Count);
    }
}
