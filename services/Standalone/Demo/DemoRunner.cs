using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Contracts;
using Pipeline.ML.Data;
using Pipeline.Storage.Repositories;
using Spectre.Console;

namespace Pipeline.Standalone.Demo;

public sealed record DemoOptions
{
    public string Scenario { get; init; } = "rotate-30";
    public int Seed { get; init; } = 1;
    public string? Out { get; init; }
    public string? DataDirectory { get; init; }
    public string ModelId { get; init; } = "fashion-mnist";
    public int BatchRows { get; init; } = 250;
    public int CleanRows { get; init; } = 1000;
    public int AfterDeployRows { get; init; } = 1000;
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(9);
    public string? DatabaseFile { get; init; }
    /// <summary>The inference API key the demo sends (X-Api-Key); the hosts are started with it.</summary>
    public string? ApiKey { get; init; }
    /// <summary>"Drift without harm" decisions after which the demo ends with outcome no_run.</summary>
    public int HarmlessDecisions { get; init; } = 4;
}

/// <summary>
/// The product end to end: a base Fashion-MNIST model goes to production, production traffic
/// flows through the inference service with labels fed back, a drift is injected midway, and the
/// pipeline detects it, scores, tunes, gates and deploys a new model with nobody involved.
/// </summary>
public sealed class DemoRunner(DemoOptions o, IAnsiConsole console)
{
    private readonly Stopwatch clock = Stopwatch.StartNew();

    public async Task<int> RunAsync(Func<DemoEvents, CancellationToken, Task<IDemoEnvironment>> start, CancellationToken ct)
    {
        var scenario = DriftScenario.Parse(o.Scenario);
        Say($"[bold]Drift-adaptive pipeline demo[/]: scenario [yellow]{scenario.Name}[/], seed {o.Seed}");

        using var splits = FashionMnist.LoadSplits(o.Seed, o.DataDirectory);
        var setup = new DemoBaseModel(console, Say);
        var baseModel = setup.Train(splits, o.Seed, ct);

        var events = new DemoEvents();
        await using var env = await start(events, ct);
        var ready = await env.ReadinessAsync(ct);
        var table = new Table().AddColumn("service").AddColumn("ready");
        foreach (var (service, status) in ready)
        {
            table.AddRow(service, status == "Healthy" ? "[green]Healthy[/]" : $"[red]{Markup.Escape(status)}[/]");
        }

        console.Write(table);
        Say($"mode [yellow]{env.Mode}[/]; inference at {env.InferenceUrl}");

        var services = env.Services;
        var baseRecord = await setup.RegisterAsync(services, baseModel, splits, o.ModelId, o.Seed, ct);
        baseModel.Dispose();

        using var http = new DemoTraffic(env.InferenceUrl, o.ApiKey, o.BatchRows);
        await http.WaitForModelAsync(baseRecord.Version, Say, ct);

        var watch = new DemoRunWatch();
        var result = await StreamAsync(http, splits, scenario, events, watch, services.GetRequiredService<IDriftRepository>(), ct);

        var summary = await DemoSummary.SummariseAsync(
            services, o, env.Mode, splits, scenario, baseRecord.Version, watch, result, clock.Elapsed.TotalSeconds, ct);
        DemoSummary.Print(console, Say, summary);
        if (o.Out is { } path)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            var json = new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
            await File.WriteAllTextAsync(path, JsonSerializer.Serialize(summary, json), ct);
            Say($"wrote {Markup.Escape(path)}");
        }

        if (summary.Outcome == "no_run")
        {
            Say("[green]drift without harm: no run[/]");
            return 0;
        }

        Say($"inspect the run: ./pipeline ctl runs show {summary.RunId} --db {Markup.Escape(o.DatabaseFile ?? "")}");
        return summary.Outcome is "deployed" or "rejected" or "awaiting_approval" ? 0 : 1;
    }

    private void Say(string markup) =>
        console.MarkupLine($"[grey]{clock.Elapsed.TotalSeconds,6:F1}s[/] {markup}");

    internal sealed record StreamResult(int Rows, double? BeforeDrift, double? DuringDrift, double? AfterDeploy, double? DriftInjectedAt);

    private sealed class Accuracy
    {
        public int Correct;
        public int Total;

        public double? Value => Total == 0 ? null : (double)Correct / Total;
    }

    private async Task<StreamResult> StreamAsync(
        DemoTraffic http, FashionMnistSplits splits, DriftScenario scenario, DemoEvents events, DemoRunWatch watch, IDriftRepository drift,
        CancellationToken ct)
    {
        var pool = splits.Test.Count - 2000; // the last 2000 test images are kept for the summary
        using var clean = splits.Test.Slice(0, o.CleanRows);
        using var driftSource = splits.Test.Slice(o.CleanRows, pool - o.CleanRows);
        using var drifted = scenario.Apply(driftSource, o.Seed + 100);
        var cleanRows = clean.ToFeatureVectors();
        var cleanLabels = clean.LabelArray();
        var driftRows = drifted.ToFeatureVectors();
        var driftLabels = drifted.LabelArray();

        var before = new Accuracy();
        var during = new Accuracy();
        var after = new Accuracy();
        var rows = 0;
        double? injectedAt = null;
        var deadline = clock.Elapsed + o.Timeout;

        var eventPump = Task.Run(() => watch.PumpAsync(events, () => clock.Elapsed.TotalSeconds, Say, ct), ct);
        await console.Progress().AutoClear(false).Columns(
                new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .StartAsync(async ctx =>
            {
                var traffic = ctx.AddTask("production traffic", maxValue: o.CleanRows);
                for (var i = 0; i < cleanRows.Length; i += o.BatchRows)
                {
                    rows += await SendAsync(http, cleanRows, cleanLabels, i, before, ct);
                    traffic.Value = rows;
                }

                injectedAt = clock.Elapsed.TotalSeconds;
                var injectedUtc = DateTimeOffset.UtcNow;
                var polls = 0;
                Say($"[yellow]drift injected[/]: {scenario.Name} from row {rows}");
                traffic.Description = $"production traffic ({scenario.Name})";
                var tuning = ctx.AddTask("adaptation run", maxValue: 1);
                tuning.IsIndeterminate = true;
                var afterRows = 0;
                var offset = 0;
                while (clock.Elapsed < deadline && afterRows < o.AfterDeployRows)
                {
                    var deployed = watch.Outcome == "deployed";
                    var target = deployed ? after : during;
                    var n = await SendAsync(http, driftRows, driftLabels, offset, target, ct);
                    rows += n;
                    afterRows += deployed ? n : 0;
                    offset = (offset + o.BatchRows) % (driftRows.Length - o.BatchRows);
                    traffic.MaxValue = Math.Max(traffic.MaxValue, rows);
                    traffic.Value = rows;

                    if (watch.Tuning is { } t)
                    {
                        tuning.IsIndeterminate = false;
                        tuning.MaxValue = t.TotalSteps;
                        tuning.Value = t.Step;
                        tuning.Description = $"tuning ({t.Phase}) loss {t.Loss:F3}";
                    }

                    if (watch.RunId is null && ++polls % 4 == 0 && await HarmlessDriftAsync(drift, injectedUtc, ct) is { } harmless)
                    {
                        watch.Outcome = "no_run";
                        watch.Reasons = [harmless];
                        Say($"[green]drift without harm[/]: {Markup.Escape(harmless)}");
                    }

                    if (watch.Outcome is not null && watch.Outcome != "deployed")
                    {
                        break;
                    }

                    if (watch.Outcome == "deployed")
                    {
                        tuning.Value = tuning.MaxValue;
                        tuning.Description = $"deployed v{watch.DeployedVersion}";
                    }

                    // Faster while the run waits for labelled traffic, gentler while it computes.
                    await Task.Delay(watch.Scored && watch.Outcome is null ? 1000 : 150, ct);
                }
            });

        if (watch.Outcome is null)
        {
            watch.Outcome = watch.RunId is null ? "no_drift_detected" : "timeout";
        }

        return new StreamResult(rows, before.Value, during.Value, after.Value, injectedAt);
    }

    /// <summary>
    /// The reason of the latest "drift without harm" decision once DriftDetection has made
    /// <see cref="DemoOptions.HarmlessDecisions"/> of them since the drift was injected (and started no run).
    /// </summary>
    private Task<string?> HarmlessDriftAsync(IDriftRepository drift, DateTimeOffset since, CancellationToken ct) =>
        DemoDriftReports.HarmlessAsync(drift, o.ModelId, since, o.HarmlessDecisions, ct);

    private static async Task<int> SendAsync(DemoTraffic http, float[][] rows, long[] labels, int offset, Accuracy accuracy, CancellationToken ct)
    {
        var (count, correct, _) = await http.SendAsync(rows, labels, offset, ct);
        accuracy.Total += count;
        accuracy.Correct += correct;
        return count;
    }
}
