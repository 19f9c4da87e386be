using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Artifacts;
using Pipeline.ML.Benchmarks;
using Pipeline.ML.Data;
using Pipeline.ML.Models;
using Pipeline.Storage.Repositories;
using Spectre.Console;

namespace Pipeline.Standalone.Demo;

/// <summary>
/// The continual demo: one production stream in which regimes follow one another (original first). Each regime
/// streams labelled traffic until the pipeline has detected it and its run has ended (plus some traffic for the
/// new version), every adaptation starting from the current production version. After each regime the production
/// model is measured on every regime's unseen rows (the accuracy matrix), and at the end a model retrained from
/// scratch on every labelled row seen gives the reference, with bench continual's metrics.
/// </summary>
public sealed class SequenceRunner(DemoOptions o, SequenceOptions sequence, IAnsiConsole console)
{
    private readonly Stopwatch clock = Stopwatch.StartNew();
    private readonly List<ChartPoint> points = [];
    private readonly List<ChartRegime> boundaries = [];

    private sealed record Segment(RegimeWatch Watch, int Rows, double? LiveBefore, double? LiveAfter, DateTimeOffset StartedUtc, int RowsBefore);

    public async Task<int> RunAsync(Func<DemoEvents, CancellationToken, Task<IDemoEnvironment>> start, CancellationToken ct)
    {
        var names = sequence.Regimes.Select(r => r.Name).ToList();
        Say($"[bold]Continual demo[/]: original → {Markup.Escape(string.Join(" → ", names))}, seed {o.Seed}");
        using var splits = FashionMnist.LoadSplits(o.Seed, o.DataDirectory);
        var setup = new DemoBaseModel(console, Say);
        using var baseModel = setup.Train(splits, o.Seed, ct);
        var regimes = RegimeData.Load(splits, sequence, o.CleanRows, o.Seed);
        try
        {
            return await RunAsync(start, splits, baseModel, setup, regimes, ct);
        }
        finally
        {
            regimes.ForEach(r => r.Dispose());
        }
    }

    private async Task<int> RunAsync(
        Func<DemoEvents, CancellationToken, Task<IDemoEnvironment>> start, FashionMnistSplits splits, ModelBundle baseModel,
        DemoBaseModel setup, List<RegimeData> regimes, CancellationToken ct)
    {
        var baseAcc = SequenceEvaluation.Row(baseModel, regimes);
        Say($"base model on unseen data: {Accuracies(regimes, baseAcc)}");

        var events = new DemoEvents();
        await using var env = await start(events, ct);
        Say($"mode [yellow]{env.Mode}[/]; inference at {env.InferenceUrl}; " +
            string.Join(", ", (await env.ReadinessAsync(ct)).Select(r => $"{r.Service} {Markup.Escape(r.Status)}")));
        var services = env.Services;
        var configuration = services.GetRequiredService<IConfiguration>();
        var production = (await setup.RegisterAsync(services, baseModel, splits, o.ModelId, o.Seed, ct)).Version;
        using var traffic = new DemoTraffic(env.InferenceUrl, o.ApiKey, o.BatchRows);
        await traffic.WaitForModelAsync(production, Say, ct);

        var watch = new SequenceWatch(() => clock.Elapsed.TotalSeconds, Say);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var pump = Task.Run(() => watch.PumpAsync(events, stop.Token), stop.Token);

        boundaries.Add(new ChartRegime(clock.Elapsed.TotalSeconds, "original"));
        var rows = 0;
        for (var offset = 0; offset < regimes[0].Rows.Length; offset += o.BatchRows)
        {
            rows += (await SendAsync(traffic, regimes[0], offset, ct)).Rows;
        }

        var matrix = new List<IReadOnlyList<double>>();
        var report = new List<SequenceEvent>();
        var batch = configuration.GetValue("Tuning:BatchSize", 64);
        var window = configuration.GetValue("DriftDetection:WindowSize", 500);
        var previous = baseAcc;
        for (var t = 1; t < regimes.Count; t++)
        {
            Say($"[yellow]regime {t}: {Markup.Escape(regimes[t].Name)}[/] from row {rows}");
            var segment = await SegmentAsync(traffic, regimes[t], watch, services.GetRequiredService<IDriftRepository>(), rows, ct);
            rows += segment.Rows;
            var before = production;
            production = segment.Watch.DeployedVersion ?? production;
            var (model, _) = await services.GetRequiredService<ModelArtifacts>().LoadAsync(o.ModelId, production, "auto", ct);
            double[] row;
            using (model)
            {
                row = SequenceEvaluation.Row(model, regimes);
            }

            matrix.Add(row);
            Say($"production v{production} after {Markup.Escape(regimes[t].Name)}: {Accuracies(regimes, row)}");
            report.Add(await EventAsync(services, regimes, t, segment, before, previous, row, batch, window, ct));
            previous = row;
        }

        await stop.CancelAsync();
        await pump.ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);

        Say("retrain reference (from scratch on every labelled row seen, after each event)");
        var retrain = SequenceEvaluation.Retrain(splits, baseModel, regimes, baseAcc, o.Seed, Say, ct);
        var summary = ContinualMetrics.Compute(matrix, baseAcc);
        var jsonPath = Path.GetFullPath(o.Out ?? Path.Combine(Path.GetDirectoryName(o.DatabaseFile ?? "") ?? ".", "sequence.json"));
        var chartPath = Path.ChangeExtension(jsonPath, ".svg");
        var result = new SequenceReport
        {
            Sequence = ["original", .. regimes.Skip(1).Select(r => r.Name)], Seed = o.Seed, Mode = env.Mode, Events = report,
            BaseAcc = baseAcc, AccMatrix = matrix, AvgAcc = summary.AvgAcc, Forgetting = summary.Forgetting,
            MaxForgetting = summary.MaxForgetting, Bwt = summary.Bwt, SamplePasses = report.Sum(e => e.SamplePasses), Retrain = retrain,
            UnseenRows = [.. regimes.Select(r => r.Unseen.Count)],
            Settings = new Dictionary<string, string>
            {
                ["DriftDetection:Cooldown"] = configuration["DriftDetection:Cooldown"] ?? "",
                ["DriftDetection:WindowSize"] = configuration["DriftDetection:WindowSize"] ?? "",
                ["Scoring:MinLabelledRows"] = configuration["Scoring:MinLabelledRows"] ?? "",
                ["Tuning:MaxRegimeRows"] = configuration["Tuning:MaxRegimeRows"] ?? "4000 (default)",
                ["Scoring:ClassBalancedReplay"] = configuration["Scoring:ClassBalancedReplay"] ?? "true (default)",
                ["minimum_regime_rows"] = sequence.MinimumRows.ToString(CultureInfo.InvariantCulture),
            },
            Chart = Path.GetFileName(chartPath), RowsStreamed = rows, TotalSeconds = clock.Elapsed.TotalSeconds,
        };
        Directory.CreateDirectory(Path.GetDirectoryName(jsonPath)!);
        lock (watch.Markers)
        {
            File.WriteAllText(chartPath, AccuracyChart.Svg(points, boundaries, watch.Markers,
                $"Continual demo, seed {o.Seed}: live accuracy of the production model"));
        }

        var json = new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        await File.WriteAllTextAsync(jsonPath, JsonSerializer.Serialize(result, json), ct);
        Print(result);
        Say($"wrote {Markup.Escape(jsonPath)} and {Markup.Escape(chartPath)}");
        return report.All(e => e.Outcome is "deployed" or "rejected" or "no_run" or "awaiting_approval") ? 0 : 1;
    }

    /// <summary>Streams one regime until its run has ended (and the new version has served some traffic).</summary>
    private async Task<Segment> SegmentAsync(
        DemoTraffic traffic, RegimeData regime, SequenceWatch watch, IDriftRepository drift, int rowsBefore, CancellationToken ct)
    {
        var w = watch.Begin();
        var startedUtc = DateTimeOffset.UtcNow;
        boundaries.Add(new ChartRegime(clock.Elapsed.TotalSeconds, regime.Name));
        var deadline = clock.Elapsed + sequence.RegimeTimeout;
        // Without a run after this many rows the regime counts as not detected.
        var undetectedAfter = Math.Max(2 * sequence.MinimumRows, regime.Rows.Length);
        int rows = 0, afterRows = 0, polls = 0, offset = 0;
        (int Rows, int Correct) before = default, after = default;
        while (clock.Elapsed < deadline)
        {
            var deployed = w.Outcome == "deployed";
            var sent = await SendAsync(traffic, regime, offset, ct);
            offset = offset + sent.Rows >= regime.Rows.Length ? 0 : offset + sent.Rows;
            rows += sent.Rows;
            if (deployed)
            {
                afterRows += sent.Rows;
                after = (after.Rows + sent.Rows, after.Correct + sent.Correct);
            }
            else
            {
                before = (before.Rows + sent.Rows, before.Correct + sent.Correct);
            }

            if ((deployed && afterRows >= sequence.AfterDeployRows) || w.Outcome is not (null or "deployed"))
            {
                break;
            }

            if (w.RunId is null && ++polls % 4 == 0 && await DemoDriftReports.HarmlessAsync(drift, o.ModelId, startedUtc, o.HarmlessDecisions, ct) is { } harmless)
            {
                (w.Outcome, w.Reasons) = ("no_run", [harmless]);
                Say($"[green]drift without harm[/]: {Markup.Escape(harmless)}");
                break;
            }

            if (w.RunId is null && rows >= undetectedAfter)
            {
                break;
            }

            await Task.Delay(w.Scored && w.Outcome is null ? 1000 : 150, ct);
        }

        w.Outcome ??= w.RunId is null ? "no_drift_detected" : "timeout";
        return new Segment(w, rows, Rate(before), Rate(after), startedUtc, rowsBefore);

        static double? Rate((int Rows, int Correct) a) => a.Rows == 0 ? null : (double)a.Correct / a.Rows;
    }

    private async Task<(int Rows, int Correct)> SendAsync(DemoTraffic traffic, RegimeData regime, int offset, CancellationToken ct)
    {
        var (rows, correct, _) = await traffic.SendAsync(regime.Rows, regime.Labels, offset, ct);
        regime.Streamed(offset, rows);
        points.Add(new ChartPoint(clock.Elapsed.TotalSeconds, rows == 0 ? 0 : (double)correct / rows));
        return (rows, correct);
    }

    private async Task<SequenceEvent> EventAsync(
        IServiceProvider services, List<RegimeData> regimes, int t, Segment segment, int productionBefore, IReadOnlyList<double> before,
        IReadOnlyList<double> after, int batch, int window, CancellationToken ct)
    {
        var w = segment.Watch;
        var tournament = await DemoTournamentView.LoadAsync(services, w.RunId, ct);
        var deployed = w.DeployedVersion is { } v && w.Trained.TryGetValue(v, out var c) ? c : null;
        // The gate's holdout covers the earlier regimes in equal shares, so forgetting on unseen data is their mean.
        var promise = DemoTournamentView.Promise(services, regimes[t].Unseen.Count, w.DeployedVersion is not null, new DemoAccuracy
        {
            OriginalBefore = before.Take(t).Average(), OriginalAfter = after.Take(t).Average(), ShiftedBefore = before[t], ShiftedAfter = after[t],
        });
        return new SequenceEvent
        {
            Regime = regimes[t].Name,
            Harmful = before[t - 1] - before[t] >= 0.02,
            // Windows are numbered over the model's whole stream (every row sent is observed), so the windows the
            // regime took are the raising window's number less the windows completed before its first row.
            DetectedAfterWindows = w.DetectedWindow is { } n ? (int)(n - (segment.RowsBefore / window)) : null,
            Outcome = w.Outcome ?? "unknown", RunId = w.RunId?.ToString(), ProductionBefore = productionBefore, DeployedVersion = w.DeployedVersion,
            Winner = tournament?.Winner ?? deployed?.Strategy,
            Candidates = tournament?.Strategies is { Count: > 0 } s ? s : [.. w.Trained.Values.Select(x => x.Strategy).Distinct()],
            SelectedFraction = deployed?.SelectedFraction,
            SamplePasses = w.Trained.Values.Sum(x => (long)x.Steps * batch),
            Seconds = w.DetectedAt is { } d && w.OutcomeAt is { } e ? e - d : 0,
            Promise = promise.Kept switch { true => "kept", false => "broken", null => "n/a" },
            GainUnseen = promise.GainUnseen, ForgettingUnseen = promise.ForgettingUnseen,
            Reasons = w.Reasons, RowsStreamed = segment.Rows, LiveAccuracyBefore = segment.LiveBefore, LiveAccuracyAfter = segment.LiveAfter,
        };
    }

    private void Print(SequenceReport r)
    {
        var table = new Table().Title($"continual demo, seed {r.Seed}").AddColumn("event").AddColumn("harmful").AddColumn("windows")
            .AddColumn("outcome").AddColumn("winner").AddColumn("selected").AddColumn("seconds").AddColumn("promise")
            .AddColumn("accuracy after (" + string.Join(" / ", r.Sequence) + ")");
        for (var t = 0; t < r.Events.Count; t++)
        {
            var e = r.Events[t];
            table.AddRow(Markup.Escape(e.Regime), e.Harmful ? "yes" : "no", e.DetectedAfterWindows?.ToString(CultureInfo.InvariantCulture) ?? "-",
                e.Outcome, Markup.Escape(e.Winner ?? "-"), e.SelectedFraction is { } f ? f.ToString("P2", CultureInfo.InvariantCulture) : "-",
                e.Seconds.ToString("F0", CultureInfo.InvariantCulture), e.Promise, string.Join(" / ", r.AccMatrix[t].Select(F3)));
        }

        console.Write(table);
        Say($"pipeline: avg_acc {F3(r.AvgAcc)}, forgetting {F3(r.Forgetting)}, bwt {F3(r.Bwt)}, {r.SamplePasses:N0} sample passes");
        if (r.Retrain is { } re)
        {
            Say($"retrain:  avg_acc {F3(re.AvgAcc)}, forgetting {F3(re.Forgetting)}, bwt {F3(re.Bwt)}, {re.SamplePasses:N0} sample passes");
        }
    }

    private static string F3(double v) => v.ToString("F3", CultureInfo.InvariantCulture);

    private static string Accuracies(List<RegimeData> regimes, IReadOnlyList<double> acc) =>
        string.Join(", ", regimes.Select((r, j) => $"{Markup.Escape(r.Name)} {F3(acc[j])}"));

    private void Say(string markup) => console.MarkupLine($"[grey]{clock.Elapsed.TotalSeconds,6:F1}s[/] {markup}");
}
