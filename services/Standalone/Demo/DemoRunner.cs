using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Adaptation;
using Pipeline.Contracts;
using Pipeline.Hosting;
using Pipeline.ML.Data;
using Pipeline.ML.Evaluation;
using Pipeline.ML.Models;
using Pipeline.ML.Training;
using Pipeline.Storage.Artifacts;
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
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
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
        public double? DriftDetectedAt;
        public double? DeployedAt;
    }

    public async Task<int> RunAsync(Func<DemoEvents, CancellationToken, Task<IDemoEnvironment>> start, CancellationToken ct)
    {
        var scenario = DriftScenario.Parse(o.Scenario);
        Say($"[bold]Drift-adaptive pipeline demo[/]: scenario [yellow]{scenario.Name}[/], seed {o.Seed}");

        using var splits = FashionMnist.LoadSplits(o.Seed, o.DataDirectory);
        var baseModel = TrainBase(splits, ct);

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
        var baseRecord = await RegisterBaseAsync(services, baseModel, splits, ct);
        baseModel.Dispose();

        using var http = new HttpClient { BaseAddress = env.InferenceUrl, Timeout = TimeSpan.FromSeconds(60) };
        if (o.ApiKey is { } key)
        {
            http.DefaultRequestHeaders.Add("X-Api-Key", key);
        }
        await WaitForModelAsync(http, baseRecord.Version, ct);

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

    private ModelBundle TrainBase(FashionMnistSplits splits, CancellationToken ct)
    {
        var options = new BaseTrainingOptions { Architecture = "cnn-small", Epochs = 2, TrainSize = 20000, Seed = o.Seed };
        ModelBundle? model = null;
        var cached = false;
        console.Progress().AutoClear(false).Columns(
                new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask("base model (cnn-small, 2 epochs)");
                var progress = new SyncProgress<TrainingProgress>(p =>
                {
                    task.MaxValue = p.TotalSteps;
                    task.Value = p.Step;
                    task.Description = $"base model: epoch {p.Epoch}, loss {p.Loss:F3}";
                });
                (model, cached) = BaseTrainer.TrainOrLoad(splits.Train, options, null, progress, ct);
                task.Value = task.MaxValue;
            });
        Say(cached ? "base model loaded from cache" : "base model trained");
        return model!;
    }

    /// <summary>
    /// Registers the base model as any user would (ctl models register): the model file and its reference data go to
    /// the shared artifact store, then RegisterModel with Deploy over the bus, answered by the registry's owner.
    /// </summary>
    private async Task<ModelVersionRecord> RegisterBaseAsync(IServiceProvider services, ModelBundle model, FashionMnistSplits splits, CancellationToken ct)
    {
        var datasets = services.GetRequiredService<DatasetArtifacts>();
        var artifacts = services.GetRequiredService<IArtifactStore>();
        var registry = services.GetRequiredService<IModelRegistry>();
        var bus = services.GetRequiredService<IBus>();

        using var reference = splits.Validation.Take(3000);
        using var replaySample = splits.Train.Shuffle(o.Seed).Take(2000);
        var replay = await datasets.SaveAsync(DatasetArtifacts.FromDataset(replaySample), "datasets", $"{o.ModelId}/replay.pfb", ct);
        var holdout = await datasets.SaveAsync(DatasetArtifacts.FromDataset(splits.ReferenceHoldout), "datasets", $"{o.ModelId}/reference-holdout.pfb", ct);
        var driftReference = await datasets.SaveAsync(DatasetArtifacts.FromDataset(reference), "datasets", $"{o.ModelId}/drift-reference.pfb", ct);
        var file = Path.Combine(Path.GetTempPath(), $"demo-model-{Guid.NewGuid():N}.model");
        ArtifactRef uploaded;
        try
        {
            model.Save(file);
            await using var stream = File.OpenRead(file);
            uploaded = await artifacts.PutAsync(stream, "uploads", $"{o.ModelId}/base.model", ct);
        }
        finally
        {
            File.Delete(file);
        }

        var client = bus.CreateRequestClient<RegisterModel>(RequestTimeout.After(s: 120));
        var response = await client.GetResponse<ModelVersionRegistered>(new RegisterModel
        {
            ModelId = o.ModelId,
            ModelFile = new PayloadRef { Uri = uploaded.Uri, Sha256 = uploaded.Sha256, SizeBytes = uploaded.Size },
            ReferenceData = driftReference, GateHoldout = holdout, ReplaySet = replay,
            Deploy = true, Reason = "initial model",
        }, x => x.UseExecute(c => c.Headers.Set(OperatorIdentity.InMemoryHeader, "demo")), ct);
        var record = await registry.GetVersionAsync(o.ModelId, response.Message.Version, ct)
            ?? throw new InvalidOperationException($"{o.ModelId} v{response.Message.Version} was announced but is not in the registry");
        Say($"registered {o.ModelId} v{record.Version} ({record.ParamsTotal:N0} parameters) over the bus and put it in production");
        return record;
    }

    private async Task WaitForModelAsync(HttpClient http, int version, CancellationToken ct)
    {
        var until = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < until)
        {
            try
            {
                var model = await http.GetFromJsonAsync<JsonElement>("/model", ct);
                if (model.TryGetProperty("version", out var v) && v.GetInt32() >= version)
                {
                    Say($"inference serves v{v.GetInt32()}");
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // not loaded yet (503)
            }

            await Task.Delay(250, ct);
        }

        throw new TimeoutException("the inference service did not load the base model within 60 s");
    }

    private sealed record StreamResult(int Rows, double? BeforeDrift, double? DuringDrift, double? AfterDeploy, double? DriftInjectedAt);

    private sealed class Accuracy
    {
        public int Correct;
        public int Total;

        public double? Value => Total == 0 ? null : (double)Correct / Total;
    }

    private async Task<StreamResult> StreamAsync(
        HttpClient http, FashionMnistSplits splits, DriftScenario scenario, DemoEvents events, RunWatch watch, IDriftRepository drift,
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
    private async Task<string?> HarmlessDriftAsync(IDriftRepository drift, DateTimeOffset since, CancellationToken ct)
    {
        var harmless = new List<string>();
        foreach (var report in (await drift.ListReportsAsync(o.ModelId, 50, ct)).Where(r => r.CreatedAt >= since).OrderBy(r => r.CreatedAt))
        {
            using var json = JsonDocument.Parse(report.ReportJson ?? "{}");
            if (json.RootElement.TryGetProperty("trigger", out var t) && t.ValueKind == JsonValueKind.Object
                && t.GetProperty("outcome").GetString() == "drift_without_harm")
            {
                harmless.Add(t.GetProperty("reason").GetString() ?? "");
            }
        }

        return harmless.Count >= o.HarmlessDecisions ? harmless[^1] : null;
    }

    private async Task<int> SendAsync(HttpClient http, float[][] rows, long[] labels, int offset, Accuracy accuracy, CancellationToken ct)
    {
        var count = Math.Min(o.BatchRows, rows.Length - offset);
        var batch = rows.AsSpan(offset, count).ToArray();
        var response = await http.PostAsJsonAsync("/predict", new { instances = batch }, ct);
        // Drift evaluation is behind (Inference:MaxLagRows): wait as told, as a production client would.
        while (response.StatusCode == System.Net.HttpStatusCode.ServiceUnavailable && response.Headers.RetryAfter?.Delta is { } wait)
        {
            response.Dispose();
            await Task.Delay(wait, ct);
            response = await http.PostAsJsonAsync("/predict", new { instances = batch }, ct);
        }

        using var answered = response;
        response.EnsureSuccessStatusCode();
        var body = await response.Content.ReadFromJsonAsync<PredictResponse>(Json, ct)
            ?? throw new InvalidOperationException("empty /predict response");
        var truth = labels.AsSpan(offset, count).ToArray().Select(l => (int)l).ToArray();
        for (var i = 0; i < count; i++)
        {
            accuracy.Total++;
            accuracy.Correct += body.Predictions[i].Class == truth[i] ? 1 : 0;
        }

        // The true labels come back later, as they would from a labelling team or user feedback.
        using var feedback = await http.PostAsJsonAsync("/feedback", new { batchId = body.BatchId, labels = truth }, ct);
        feedback.EnsureSuccessStatusCode();
        return count;
    }

    private sealed record PredictResponse(
        [property: JsonPropertyName("version")] int Version,
        [property: JsonPropertyName("batchId")] Guid BatchId,
        [property: JsonPropertyName("predictions")] IReadOnlyList<PredictedRow> Predictions);

    private sealed record PredictedRow([property: JsonPropertyName("class")] int Class);

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
                    watch.SelectedFraction = s.SelectedFraction;
                    Say($"sensitivity scored: mask selects {s.SelectedFraction:P2} of parameters");
                    break;
                case TuningProgress t when t.RunId == watch.RunId:
                    watch.Tuning = t;
                    break;
                case CandidateTrained c when c.RunId == watch.RunId:
                    watch.Trained[c.CandidateVersion] = c;
                    watch.UpdatedFractionPerStep = c.UpdatedFractionPerStep;
                    Say($"candidate v{c.CandidateVersion} trained ({c.Strategy}, {c.Steps} steps, {c.TrainSeconds:F1} s on {c.Device}); " +
                        $"{c.UpdatedFractionPerStep:P3} of parameters changed per step");
                    break;
                case CandidateEvaluated v when v.RunId == watch.RunId:
                    Say($"evaluated v{v.CandidateVersion}: shifted {v.ShiftedAccuracyBefore:P1} → {v.ShiftedAccuracyAfter:P1}, " +
                        $"original {v.OriginalAccuracyBefore:P1} → {v.OriginalAccuracyAfter:P1}: [bold]{v.Decision}[/]");
                    watch.Reasons = v.Reasons;
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
            Tournament = await DemoTournamentView.LoadAsync(services, watch.RunId, ct),
            Promise = DemoTournamentView.Promise(services, original.Count, watch.DeployedVersion is not null, accuracy),
            SelectedFraction = watch.SelectedFraction, UpdatedFractionPerStep = watch.UpdatedFractionPerStep,
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

/// <summary>An IProgress that reports on the caller's thread (no synchronisation context hop).</summary>
internal sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
