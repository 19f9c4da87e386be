using System.Net;
using System.Text.Json;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Contracts;
using Xunit.Abstractions;

namespace Pipeline.Observability.Tests;

/// <summary>
/// Real service hosts with real traffic, scraped by a real Prometheus with the real rules: every
/// dashboard query and alert expression must be accepted by Prometheus, and the key panels must
/// show data.
/// </summary>
public sealed class EndToEndTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    /// <summary>Panels that must show data once the services have served a little traffic.</summary>
    private static readonly string[] KeyPanels =
    [
        "Services up", "Production version served", "Predictions / s", "Predictions by model and version", "Model version per replica",
        "Share of features drifted", "Dataset drift score", "Drift windows by outcome", "Consumed messages",
        "Approvals pending", "Oldest pending approval", "Live accuracy from feedback", "Labels arriving", "Drift per feature (top features)",
    ];

    [Fact]
    public async Task Every_dashboard_query_and_alert_evaluates_against_prometheus_scraping_the_services()
    {
        await using var hosts = await ServiceHosts.StartAsync();
        await hosts.WaitForServedVersionAsync(1, Wait);

        // Traffic: predictions (which publish ObservationsIngested to DriftDetection), a bad request,
        // an operator-started run, an invalid command and a deployment of v2.
        for (var i = 0; i < 3; i++)
        {
            using var ok = await hosts.PostAsync("/predict", ServiceHosts.PredictJson(rows: 16, seed: i));
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        using (var bad = await hosts.PostAsync("/predict", "{\"instances\":[[1,2,3]]}"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        }

        var driftBus = hosts.Drift.Services.GetRequiredService<IBus>();
        await driftBus.Publish(new StartAdaptation { ModelId = ServiceHosts.ModelId, Reason = "observability test" },
            c => c.Headers.Set(Hosting.OperatorIdentity.InMemoryHeader, "alice"));
        await driftBus.Publish(new PauseAdaptation { ModelId = "", Reason = "" });
        await hosts.DeployNewVersionAsync(seed: 2);
        await hosts.WaitForServedVersionAsync(2, Wait);

        // The operator's run reaches the gate's "ask an operator": one approval pending.
        await hosts.MoveActiveRunToAwaitingApprovalAsync(Wait);

        // Keep traffic flowing while Prometheus scrapes, so rates are non-zero.
        using var stopTraffic = new CancellationTokenSource();
        var traffic = Task.Run(async () =>
        {
            var seed = 100;
            while (!stopTraffic.IsCancellationRequested)
            {
                // Darker images than the reference: the drift windows of these batches drift.
                using var r = await hosts.PostAsync("/predict", ServiceHosts.PredictJson(rows: 16, seed: seed++, scale: 0.3f));
                await Task.Delay(200);
            }
        });

        try
        {
            await using var prometheus = await PrometheusServer.StartAsync([hosts.InferenceAddress, hosts.DriftAddress], Wait);
            output.WriteLine($"prometheus at {prometheus.Address}, inference {hosts.InferenceAddress}, drift {hosts.DriftAddress}");
            await prometheus.WaitForTargetsUpAsync(2, Wait);

            // Labels come back for a v2 batch (once v2 traffic flows, so the drift monitor watches v2):
            // 12 of its 16 predictions right.
            await hosts.SendFeedbackAsync(rows: 16, correct: 12);

            var dashboard = Assets.DashboardExprs();
            var key = KeyPanels.ToDictionary(
                p => p, p => dashboard.Where(e => e.Source.StartsWith($"panel '{p}' ", StringComparison.Ordinal)).ToList(), StringComparer.Ordinal);
            Assert.All(key, k => Assert.NotEmpty(k.Value));

            // The key panels show data (in one of their queries at least) once two scrapes have seen predictions.
            var empty = new List<string>();
            try
            {
                await PrometheusServer.WaitUntilAsync(async ct =>
                {
                    empty.Clear();
                    foreach (var (panel, exprs) in key)
                    {
                        var shown = false;
                        foreach (var e in exprs)
                        {
                            shown |= ResultCount(await prometheus.QueryAsync(e.Evaluable, ct)) > 0;
                        }

                        if (!shown)
                        {
                            empty.Add(panel);
                        }
                    }

                    return empty.Count == 0;
                }, Wait, "the key panels to show data");
            }
            catch (TimeoutException ex)
            {
                throw new TimeoutException($"{ex.Message}; still empty: {string.Join("; ", empty)}", ex);
            }

            var failures = new List<string>();
            foreach (var e in Assets.AllExprs())
            {
                var answer = await prometheus.QueryAsync(e.Evaluable);
                var status = answer.GetProperty("status").GetString();
                var count = status == "success" ? ResultCount(answer) : -1;
                output.WriteLine($"{status,-8} {count,3} series  {e.Source}  {Describe(answer)}");
                if (status != "success")
                {
                    failures.Add($"{e}: {answer.GetProperty("errorType").GetString()}: {answer.GetProperty("error").GetString()}");
                }
            }

            Assert.True(failures.Count == 0, "Prometheus refused:\n" + string.Join('\n', failures));

            // Specific values the traffic must have produced.
            Assert.Equal(2, Single(await prometheus.QueryAsync($"max(inference_model_version{{model_id=\"{ServiceHosts.ModelId}\"}})")));
            Assert.True(Single(await prometheus.QueryAsync("sum(rate(inference_predictions_total{version=\"2\"}[30s]))")) > 0);
            Assert.Equal(2, Single(await prometheus.QueryAsync("sum(up{job=\"pipeline\"})")));
            Assert.True(Single(await prometheus.QueryAsync(
                "max(pipeline_adaptation_runs_started_total{trigger=\"operator\"})")) >= 1);
            Assert.True(Single(await prometheus.QueryAsync(
                "max(pipeline_invalid_messages_total{message_type=\"PauseAdaptation\"})")) >= 1);
            Assert.True(Single(await prometheus.QueryAsync(
                "max(inference_model_swaps_total{outcome=\"swapped\"})")) >= 1);
            Assert.True(Single(await prometheus.QueryAsync(
                "max(pipeline_consumed_messages_total{message_type=\"ObservationsIngested\",outcome=\"ok\"})")) >= 1);
            Assert.True(Single(await prometheus.QueryAsync("max(pipeline_drift_windows_total{outcome=\"drifted\"})")) >= 1);
            Assert.True(Single(await prometheus.QueryAsync("max(pipeline_drift_share_drifted)")) > 0);

            // Live accuracy from the labels, per model and version; approvals pending and the oldest's
            // age; per-feature drift bounded to the top features of the window.
            // The labels are consumed and then scraped: wait for the scrape that has them.
            await PrometheusServer.WaitUntilAsync(
                async ct => ResultCount(await prometheus.QueryAsync("max(pipeline_feedback_labelled_rows_total{model=\"fashion-mnist\",version=\"2\"}) == 16", ct)) == 1,
                Wait, "the 16 labelled rows of v2 in a scrape");
            Assert.Equal(12, Single(await prometheus.QueryAsync("max(pipeline_feedback_correct_rows_total{model=\"fashion-mnist\",version=\"2\"})")));
            await PrometheusServer.WaitUntilAsync(
                async ct => ResultCount(await prometheus.QueryAsync("max(pipeline_live_accuracy{model=\"fashion-mnist\",version=\"2\"}) == 0.75", ct)) == 1,
                Wait, "the live accuracy of v2 (12 of 16) after the next window");
            Assert.Equal(1, Single(await prometheus.QueryAsync($"max(pipeline_approvals_pending{{model=\"{ServiceHosts.ModelId}\"}})")));
            Assert.InRange(Single(await prometheus.QueryAsync("max(pipeline_approval_oldest_age_seconds)")), 0.5, 600);
            Assert.Equal(4 * 3600, Single(await prometheus.QueryAsync("max(pipeline_approval_timeout_seconds)")));
            Assert.InRange(Single(await prometheus.QueryAsync(
                $"max(count by (instance) (pipeline_drift_feature_score{{model=\"{ServiceHosts.ModelId}\"}}))")), 1, 10);

            // Alert semantics on this traffic: the invalid PauseAdaptation is no consumer error, and
            // the drift is covered by the operator's run (its counter appeared in the last 2 hours).
            var alerts = Assets.AlertExprs().ToDictionary(e => e.Source, e => e.Expr, StringComparer.Ordinal);
            Assert.Equal(0, ResultCount(await prometheus.QueryAsync(alerts["rule PipelineConsumerErrors"])));
            Assert.Equal(0, ResultCount(await prometheus.QueryAsync(alerts["rule DriftSustainedWithoutRun"])));
            var sustained = alerts["rule DriftSustainedWithoutRun"].Split("unless", 2)[0];
            await PrometheusServer.WaitUntilAsync(
                async ct => ResultCount(await prometheus.QueryAsync(sustained, ct)) == 1, Wait, "3 drifted windows (without the run clause)");

            // Every name the dashboard and the alerts use either was scraped or is declared in code
            // (a labelled prometheus-net metric appears only after its first observation).
            var scraped = (await prometheus.GetAsync("/api/v1/label/__name__/values")).GetProperty("data")
                .EnumerateArray().Select(n => n.GetString()!).ToHashSet(StringComparer.Ordinal);
            var declared = Assets.DeclaredMetricNames().Union(Assets.BrokerMetricNames).ToHashSet(StringComparer.Ordinal);
            var missing = Assets.AllExprs().SelectMany(e => Assets.MetricNames(e.Expr))
                .Where(n => !scraped.Contains(n) && !declared.Contains(n)).Distinct().ToList();
            Assert.True(missing.Count == 0, "neither scraped nor declared: " + string.Join(", ", missing));
            foreach (var builtIn in Assets.BuiltInMetricNames)
            {
                Assert.Contains(builtIn, scraped);
            }

            // The rule groups load and evaluate without errors.
            await PrometheusServer.WaitUntilAsync(async ct =>
            {
                var groups = (await prometheus.GetAsync("/api/v1/rules", ct)).GetProperty("data").GetProperty("groups").EnumerateArray().ToList();
                return groups.Count == Assets.RuleGroupCount() && groups.SelectMany(g => g.GetProperty("rules").EnumerateArray())
                    .All(r => r.GetProperty("health").GetString() == "ok");
            }, TimeSpan.FromSeconds(10), "every rule to be evaluated with health ok");
        }
        finally
        {
            await stopTraffic.CancelAsync();
            await traffic;
        }
    }

    private static int ResultCount(JsonElement answer)
    {
        if (answer.GetProperty("status").GetString() != "success")
        {
            return 0;
        }

        var data = answer.GetProperty("data");
        return data.GetProperty("resultType").GetString() is "vector" or "matrix" ? data.GetProperty("result").GetArrayLength() : 1;
    }

    /// <summary>The series an answer holds, for the test log: {labels}=value, a few at most.</summary>
    private static string Describe(JsonElement answer)
    {
        if (answer.GetProperty("status").GetString() != "success" || answer.GetProperty("data").GetProperty("resultType").GetString() != "vector")
        {
            return "";
        }

        return string.Join("; ", answer.GetProperty("data").GetProperty("result").EnumerateArray().Take(4).Select(r =>
            "{" + string.Join(",", r.GetProperty("metric").EnumerateObject().Where(l => l.Name is not ("job" or "instance"))
                .Select(l => $"{l.Name}={l.Value.GetString()}")) + "}=" + r.GetProperty("value")[1].GetString()));
    }

    private static double Single(JsonElement answer)
    {
        Assert.Equal("success", answer.GetProperty("status").GetString());
        var result = answer.GetProperty("data").GetProperty("result");
        Assert.Equal(1, result.GetArrayLength());
        return double.Parse(result[0].GetProperty("value")[1].GetString()!, System.Globalization.CultureInfo.InvariantCulture);
    }
}
