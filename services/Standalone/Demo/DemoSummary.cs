using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Artifacts;
using Pipeline.Contracts;
using Pipeline.ML.Data;
using Pipeline.ML.Evaluation;
using Pipeline.Storage.Repositories;
using Spectre.Console;

namespace Pipeline.Standalone.Demo;

/// <summary>What the demo reports at its end.</summary>
internal static class DemoSummary
{
    /// <summary>The demo's report: accuracies measured here on held-out test rows, the run's stages and tournament, the live accuracy.</summary>
    public static async Task<DemoReport> SummariseAsync(
        IServiceProvider services, DemoOptions o, string mode, FashionMnistSplits splits, DriftScenario scenario, int baseVersion,
        DemoRunWatch watch, DemoRunner.StreamResult stream, double totalSeconds, CancellationToken ct)
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
            RowsStreamed = stream.Rows, TotalSeconds = totalSeconds,
        };
    }

    /// <summary>The report as a table and a few lines.</summary>
    public static void Print(IAnsiConsole console, Action<string> say, DemoReport r)
    {
        static string P(double v) => v.ToString("P1", CultureInfo.InvariantCulture);
        var table = new Table().Title($"outcome: [bold]{r.Outcome}[/]").AddColumn("").AddColumn("before (v" + r.BaseVersion + ")")
            .AddColumn("after" + (r.DeployedVersion is { } d ? $" (v{d})" : ""));
        table.AddRow("accuracy on original test data", P(r.Accuracy.OriginalBefore), P(r.Accuracy.OriginalAfter));
        table.AddRow($"accuracy on {r.Scenario} test data", P(r.Accuracy.ShiftedBefore), P(r.Accuracy.ShiftedAfter));
        console.Write(table);
        say($"selected {r.SelectedFraction:P2} of parameters, {r.UpdatedFractionPerStep:P3} changed per step; stages (s): " +
            $"detect {r.StageSeconds.Detect:F1}, score {r.StageSeconds.Score:F1}, tune {r.StageSeconds.Tune:F1}, " +
            $"evaluate {r.StageSeconds.Evaluate:F1}, deploy {r.StageSeconds.Deploy:F1}");
        say($"live accuracy: before drift {Fmt(r.LiveAccuracy.BeforeDrift)}, during drift {Fmt(r.LiveAccuracy.DuringDrift)}, after deploy {Fmt(r.LiveAccuracy.AfterDeploy)}");
        DemoTournamentView.Print(console, r.Tournament, r.Promise);

        static string Fmt(double? v) => v is { } x ? x.ToString("P1", CultureInfo.InvariantCulture) : "n/a";
    }
}
