using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Hosting;
using Pipeline.Storage;
using Pipeline.Storage.Repositories;
using Spectre.Console;

namespace Pipeline.Cli.Commands;

/// <summary>runs list / runs show: adaptation runs as the run table records them.</summary>
public static class RunsCommands
{
    private static readonly Option<string?> Db = new("--db") { Description = "SQLite file (e.g. .pipeline/demo/<time>/pipeline.db); default: Storage__* environment, else .pipeline/pipeline.db" };
    private static readonly Option<bool> Json = new("--json") { Description = "Print JSON instead of tables" };

    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = "Only this model" };
        var limit = new Option<int>("--limit") { Description = "Most recent N runs", DefaultValueFactory = _ => 20 };
        var list = new Command("list", "Recent adaptation runs") { model, limit, Db, Json };
        list.SetAction((r, ct) => ListAsync(r, r.GetValue(model), r.GetValue(limit), ct));

        var run = new Argument<Guid>("run") { Description = "Run id" };
        var show = new Command("show", "One run: stages, timings, metrics, who approved") { run, Db, Json };
        show.SetAction((r, ct) => ShowAsync(r, r.GetValue(run), ct));

        return new Command("runs", "Adaptation runs") { list, show };
    }

    private static ServiceProvider Storage(ParseResult r)
    {
        var config = new ConfigurationBuilder().AddEnvironmentVariables().AddEnvironmentVariables("PIPELINE_").Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddPipelineStorage(config, o =>
        {
            if (r.GetValue(Db) is { } file)
            {
                o.Provider = StorageProvider.Sqlite;
                o.ConnectionString = $"Data Source={file}";
            }

            // Reading must never create an empty database where the user mistyped a path.
            if (o.Provider == StorageProvider.Sqlite
                && new SqliteConnectionStringBuilder(o.ConnectionString).DataSource is { Length: > 0 } path && !File.Exists(path))
            {
                throw new UserErrorException($"no database at {path}: pass --db FILE (the demo prints the one it used)");
            }

            o.MigrateOnStartup = false;
        });
        return services.BuildServiceProvider();
    }

    private static async Task<int> ListAsync(ParseResult r, string? model, int limit, CancellationToken ct)
    {
        await using var sp = Storage(r);
        var runs = sp.GetRequiredService<IAdaptationRunRepository>();
        var registry = sp.GetRequiredService<IModelRegistry>();
        var models = model is null ? (await registry.ListModelsAsync(ct)).Select(m => m.ModelId).ToList() : [model];
        var all = new List<AdaptationRun>();
        foreach (var id in models)
        {
            all.AddRange(await runs.ListByModelAsync(id, limit, ct));
        }

        all = all.OrderByDescending(x => x.DetectedAt).Take(limit).ToList();
        if (r.GetValue(Json))
        {
            Console.WriteLine(JsonSerializer.Serialize(all, JsonOptions));
            return 0;
        }

        var table = new Table().AddColumns("run", "model", "versions", "state", "strategy", "detected", "took");
        foreach (var x in all)
        {
            table.AddRow(x.RunId.ToString(), x.ModelId, $"v{x.BaseVersion} → {(x.CandidateVersion is { } c ? "v" + c : "…")}",
                Colour(x.State), x.Strategy ?? "", x.DetectedAt.ToString("u", CultureInfo.InvariantCulture),
                x.FinishedAt is { } f ? $"{(f - x.DetectedAt).TotalSeconds:F1} s" : "running");
        }

        AnsiConsole.Write(table);
        return 0;
    }

    private static async Task<int> ShowAsync(ParseResult r, Guid id, CancellationToken ct)
    {
        await using var sp = Storage(r);
        var run = await sp.GetRequiredService<IAdaptationRunRepository>().GetAsync(id, ct);
        if (run is null)
        {
            await Console.Error.WriteLineAsync($"error: run {id} not found");
            return 2;
        }

        var history = await sp.GetRequiredService<IAdaptationRunRepository>().GetHistoryAsync(id, ct);
        var evaluation = await sp.GetRequiredService<IEvaluationRepository>().GetAsync(id, ct);
        var approvals = await sp.GetRequiredService<IApprovalRepository>().ListByRunAsync(id, ct);
        var mask = await sp.GetRequiredService<ISensitivityMaskRepository>().GetAsync(id, ct);
        var (tournament, candidates) = await TournamentView.LoadAsync(sp, id, ct);
        if (r.GetValue(Json))
        {
            Console.WriteLine(JsonSerializer.Serialize(new { run, history, evaluation, approvals, mask, tournament, candidates }, JsonOptions));
            return 0;
        }

        AnsiConsole.MarkupLine($"[bold]run {run.RunId}[/]  {run.ModelId} v{run.BaseVersion} → {(run.CandidateVersion is { } c ? "v" + c : "(no candidate)")}  {Colour(run.State)}");
        if (run.FailureReason is not null)
        {
            AnsiConsole.MarkupLine($"[red]failed in {Markup.Escape(run.FailureStage ?? "?")}: {Markup.Escape(run.FailureReason)}[/]");
        }

        var stages = new Table().Title("stages").AddColumns("at", "state", "seconds in previous", "detail");
        DateTimeOffset? previous = null;
        foreach (var h in history)
        {
            stages.AddRow(h.ChangedAt.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture), h.ToState.ToString(),
                previous is { } p ? $"{(h.ChangedAt - p).TotalSeconds:F1}" : "", Markup.Escape(h.Detail ?? ""));
            previous = h.ChangedAt;
        }

        AnsiConsole.Write(stages);
        if (mask is not null)
        {
            AnsiConsole.MarkupLine($"mask: {mask.SelectedFraction:P2} of parameters selected ({Markup.Escape(mask.MaskUri)})");
        }

        if (evaluation is not null)
        {
            var t = new Table().Title($"evaluation: {evaluation.Decision}").AddColumns("", $"production v{evaluation.ProductionVersion}", $"candidate v{evaluation.CandidateVersion}");
            t.AddRow("shifted holdout", P(evaluation.AccShiftedBefore), P(evaluation.AccShiftedAfter));
            t.AddRow("original holdout", P(evaluation.AccOriginalBefore), P(evaluation.AccOriginalAfter));
            AnsiConsole.Write(t);
            AnsiConsole.MarkupLine($"gain {evaluation.AccShiftedAfter - evaluation.AccShiftedBefore:P2}{Ci(evaluation.GainLower, evaluation.GainUpper)}; " +
                $"forgetting {evaluation.Forgetting:P2}{Ci(evaluation.ForgettingLower, evaluation.ForgettingUpper)}; candidate latency {evaluation.LatencyMs:F2} ms per batch");
            if (evaluation.Confidence is { } level)
            {
                AnsiConsole.MarkupLine($"intervals at {level:P0} confidence, paired on {evaluation.ShiftedRows} shifted and {evaluation.OriginalRows} original rows");
            }
        }

        TournamentView.Print(tournament, candidates);
        foreach (var a in approvals)
        {
            AnsiConsole.MarkupLine($"{a.Decision} by [bold]{Markup.Escape(a.DecidedBy)}[/] ({a.Mode}) at {a.DecidedAt:u}: {Markup.Escape(a.Reason ?? "")}");
        }

        return 0;
    }

    private static string P(double v) => v.ToString("P1", CultureInfo.InvariantCulture);

    private static string Colour(RunState s) => s switch
    {
        RunState.Deployed => "[green]Deployed[/]",
        RunState.Rejected or RunState.Failed => $"[red]{s}[/]",
        _ => $"[yellow]{s}[/]",
    };

    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() },
    };

    private static string Ci(double? lower, double? upper) =>
        lower is { } l && upper is { } u ? $" [[{l:P2}, {u:P2}]]" : "";
}
