using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Artifacts;
using Pipeline.Contracts;
using Pipeline.Hosting;
using Pipeline.ML.Data;
using Pipeline.ML.Evaluation;
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

    private sealed class RunWatch
    {
        public Guid? RunId;
        public string? Outcome;
        public int? DeployedVersion;
        public double SelectedFraction;
        public double UpdatedFractionPerStep;
        public IReadOnlyList<string> Reasons = [];
        public bool Scored;
        public TuningProgress? Tuning;
        public readonly Dictionary<int, CandidateTrained> Trained = [];
        public readonly Dictionary<int, CandidateEvaluated> Evaluated = [];
        public double MaskSelectedFraction;
        public double? DriftDetectedAt;
        public double? DeployedAt;
    }

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

        var watch = new RunWatch();
        var result = await StreamAsync(http, splits, scenario, events, watch, services.GetRequiredService<IDriftRepository>(), ct);

        var summary = await SummariseAsync(services, env.Mode, splits, scenario, baseRecord.Version, watch, result, ct);
        PrintSummary(summary);
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

    private sealed record StreamResult(int Rows, double? BeforeDrift, double? DuringDrift, double? AfterDeploy, double? DriftInjectedAt);

    private sealed class Accuracy
    {
        public int Correct;
        public int Total;

        public double? Value => Total == 0 ? null : (double)Correct / Total;
    }

    private async Task<StreamResult> StreamAsync(
        DemoTraffic http, FashionMnistSplits splits, DriftScenario scenario, DemoEvents events, RunWatch watch, IDriftRepository drift,
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

        var eventPump = Task.Run(() => PumpEventsAsync(events, watch, ct), ct);
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

    private async Task PumpEventsAsync(DemoEvents events, RunWatch watch, CancellationToken ct)
    {
        await foreach (var e in events.Reader.ReadAllAsync(ct))
        {
            switch (e)
            {
                case DriftDetected d when watch.RunId is null:
                    watch.RunId = d.RunId;
                    watch.DriftDetectedAt = clock.Elapsed.TotalSeconds;
                    Say($"[red]drift detected[/] in {d.WindowId}: severity {d.Severity}, score {d.DatasetDriftScore:F2}; run {d.RunId}");
                    break;
                case SensitivityScored s when s.RunId == watch.RunId:
                    watch.Scored = true;
                    watch.MaskSelectedFraction = s.SelectedFraction;
                    Say($"sensitivity scored: mask selects {s.SelectedFraction:P2} of parameters");
                    break;
                case TuningProgress t when t.RunId == watch.RunId:
                    watch.Tuning = t;
                    break;
                case CandidateTrained c when c.RunId == watch.RunId:
                    watch.Trained[c.CandidateVersion] = c;
                    Say($"candidate v{c.CandidateVersion} trained ({c.Strategy}, {c.Steps} steps, {c.TrainSeconds:F1} s on {c.Device}); " +
                        $"{c.UpdatedFractionPerStep:P3} of parameters changed per step");
                    break;
                case CandidateEvaluated v when v.RunId == watch.RunId:
                    Say($"evaluated v{v.CandidateVersion}: shifted {v.ShiftedAccuracyBefore:P1} → {v.ShiftedAccuracyAfter:P1}, " +
                        $"original {v.OriginalAccuracyBefore:P1} → {v.OriginalAccuracyAfter:P1}: [bold]{v.Decision}[/]");
                    watch.Reasons = v.Reasons;
                    watch.Evaluated[v.CandidateVersion] = v;
                    break;
                case ApprovalRequested a when a.RunId == watch.RunId:
                    watch.Outcome = "awaiting_approval";
                    Say($"[yellow]approval requested[/] until {a.ExpiresAt:u}: {Markup.Escape(string.Join("; ", a.Reasons))}");
                    break;
                case CandidateApproved a when a.RunId == watch.RunId:
                    watch.Reasons = a.Reasons;
                    if (watch.Trained.TryGetValue(a.CandidateVersion, out var winner))
                    {
                        (watch.SelectedFraction, watch.UpdatedFractionPerStep) = (winner.SelectedFraction, winner.UpdatedFractionPerStep);
                    }

                    Say($"approved by {Markup.Escape(a.By)} ({a.Mode}): v{a.CandidateVersion}");
                    break;
                case CandidateRejected r when r.RunId == watch.RunId:
                    watch.Outcome = "rejected";
                    watch.Reasons = r.Reasons;
                    Say($"[red]rejected[/]: {Markup.Escape(string.Join("; ", r.Reasons))}");
                    break;
                case ModelDeployed m when m.RunId is not null && m.RunId == watch.RunId:
                    watch.DeployedVersion = m.Version;
                    if (watch.Trained.TryGetValue(m.Version, out var deployed))
                    {
                        // The deployed version's own figures (a rejected candidate's or the mask's never count).
                        (watch.SelectedFraction, watch.UpdatedFractionPerStep) = (deployed.SelectedFraction, deployed.UpdatedFractionPerStep);
                    }

                    watch.DeployedAt = clock.Elapsed.TotalSeconds;
                    watch.Outcome = "deployed";
                    Say($"[green]deployed v{m.Version}[/] (was v{m.PreviousVersion}); inference hot-swaps");
                    break;
                case AdaptationRunFailed f when f.RunId == watch.RunId:
                    watch.Outcome = "failed";
                    watch.Reasons = [$"{f.Stage}: {f.Reason}"];
                    Say($"[red]run failed[/] in {f.Stage}: {Markup.Escape(f.Reason)}");
                    break;
            }
        }
    }

    private async Task<DemoReport> SummariseAsync(
        IServiceProvider services, string mode, FashionMnistSplits splits, DriftScenario scenario, int baseVersion, RunWatch watch,
        StreamResult stream, CancellationToken ct)
    {
        var models = services.GetRequiredService<ModelArtifacts>();
        var runs = services.GetRequiredService<IAdaptationRunRepository>();
        using var original = splits.Test.Slice(splits.Test.Count - 2000, 2000);
        using var shifted = scenario.Apply(original, o.Seed + 200);

        var (v1, _) = await models.LoadAsync(o.ModelId, baseVersion, "auto", ct);
        using var baseModel = v1;
        var originalBefore = Evaluator.Evaluate(baseModel, original).Accuracy;
        var shiftedBefore = Evaluator.Evaluate(baseModel, shifted).Accuracy;
        double originalAfter = originalBefore, shiftedAfter = shiftedBefore;
        if (watch.DeployedVersion is { } deployed)
        {
            var (v2, _) = await models.LoadAsync(o.ModelId, deployed, "auto", ct);
            using var candidate = v2;
            originalAfter = Evaluator.Evaluate(candidate, original).Accuracy;
            shiftedAfter = Evaluator.Evaluate(candidate, shifted).Accuracy;
        }

        var stages = new DemoStageSeconds();
        if (watch.RunId is { } runId && await runs.GetAsync(runId, ct) is { } run)
        {
            static double Between(DateTimeOffset? a, DateTimeOffset? b) => a is { } x && b is { } y ? Math.Max(0, (y - x).TotalSeconds) : 0;
            var evaluatedUntil = run.DeployingAt ?? run.AwaitingApprovalAt ?? run.FinishedAt;
            stages = new DemoStageSeconds
            {
                Detect = stream.DriftInjectedAt is { } injected && watch.DriftDetectedAt is { } detected ? detected - injected : 0,
                Score = Between(run.ScoringAt, run.TuningAt),
                Tune = Between(run.TuningAt, run.EvaluatingAt),
                Evaluate = Between(run.EvaluatingAt, evaluatedUntil),
                Deploy = Between(run.DeployingAt, run.State == RunState.Deployed ? run.FinishedAt : null),
            };
        }

        var accuracy = new DemoAccuracy
        {
            OriginalBefore = originalBefore, OriginalAfter = originalAfter, ShiftedBefore = shiftedBefore, ShiftedAfter = shiftedAfter,
        };
        return new DemoReport
        {
            Scenario = scenario.Name, Mode = mode, Outcome = watch.Outcome ?? "unknown", RunId = watch.RunId?.ToString(),
            BaseVersion = baseVersion, DeployedVersion = watch.DeployedVersion,
            Accuracy = accuracy,
            Tournament = await DemoTournamentView.LoadAsync(services, watch.RunId, ct)
                ?? DemoTournamentView.Single(watch.Trained.Values.ToList(), watch.Evaluated, watch.DeployedVersion),
            Promise = DemoTournamentView.Promise(services, original.Count, watch.DeployedVersion is not null, accuracy),
            SelectedFraction = watch.DeployedVersion is null ? 0 : watch.SelectedFraction,
            UpdatedFractionPerStep = watch.DeployedVersion is null ? 0 : watch.UpdatedFractionPerStep, MaskSelectedFraction = watch.MaskSelectedFraction,
            StageSeconds = stages, Reasons = watch.Reasons,
            LiveAccuracy = new DemoLiveAccuracy { BeforeDrift = stream.BeforeDrift, DuringDrift = stream.DuringDrift, AfterDeploy = stream.AfterDeploy },
            RowsStreamed = stream.Rows, TotalSeconds = clock.Elapsed.TotalSeconds,
        };
    }

    private void PrintSummary(DemoReport r)
    {
        static string P(double v) => v.ToString("P1", CultureInfo.InvariantCulture);
        var table = new Table().Title($"outcome: [bold]{r.Outcome}[/]").AddColumn("").AddColumn("before (v" + r.BaseVersion + ")")
            .AddColumn("after" + (r.DeployedVersion is { } d ? $" (v{d})" : ""));
        table.AddRow("accuracy on original test data", P(r.Accuracy.OriginalBefore), P(r.Accuracy.OriginalAfter));
        table.AddRow($"accuracy on {r.Scenario} test data", P(r.Accuracy.ShiftedBefore), P(r.Accuracy.ShiftedAfter));
        console.Write(table);
        Say($"selected {r.SelectedFraction:P2} of parameters, {r.UpdatedFractionPerStep:P3} changed per step; stages (s): " +
            $"detect {r.StageSeconds.Detect:F1}, score {r.StageSeconds.Score:F1}, tune {r.StageSeconds.Tune:F1}, " +
            $"evaluate {r.StageSeconds.Evaluate:F1}, deploy {r.StageSeconds.Deploy:F1}");
        Say($"live accuracy: before drift {Fmt(r.LiveAccuracy.BeforeDrift)}, during drift {Fmt(r.LiveAccuracy.DuringDrift)}, after deploy {Fmt(r.LiveAccuracy.AfterDeploy)}");
        DemoTournamentView.Print(console, r.Tournament, r.Promise);

        static string Fmt(double? v) => v is { } x ? x.ToString("P1", CultureInfo.InvariantCulture) : "n/a";
    }
}
