using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Contracts;
using Pipeline.AdaptationRuns;
using Pipeline.Hosting;
using Pipeline.Storage;
using Spectre.Console;

namespace Pipeline.Cli.Commands;

/// <summary>
/// runs list / show / watch. Against a running deployment they are requests to the run owner (adaptation-runs)
/// over RabbitMQ; with --db they read a database file offline (a demo's, a copy).
/// </summary>
public static class RunsCommands
{
    private static readonly Option<string?> Db = new("--db") { Description = "Read this SQLite file offline instead of asking the running pipeline (e.g. .pipeline/demo/<time>/pipeline.db)" };
    private static readonly Option<bool> Json = new("--json") { Description = "Print JSON instead of tables" };

    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = "Only this model" };
        var pending = new Option<bool>("--pending") { Description = "Only candidates awaiting an operator's approval" };
        var limit = new Option<int>("--limit") { Description = "Most recent N runs", DefaultValueFactory = _ => 20 };
        limit.Validators.Add(v =>
        {
            if (v.GetValue(limit) is < 1 or > 1000)
            {
                v.AddError("--limit must be between 1 and 1000");
            }
        });
        var list = Ctl.WithConnection(new Command("list", "Recent adaptation runs (newest first)") { model, pending, limit, Db, Json });
        list.SetAction((r, ct) => Ctl.RunAsync(async () =>
        {
            var query = new ListRuns { ModelId = r.GetValue(model), PendingOnly = r.GetValue(pending), Limit = r.GetValue(limit) };
            if (query.ModelId is { } m && !Pipeline.Contracts.Validation.Rules.IsValidModelId(m))
            {
                throw new UserErrorException($"--model '{m}' is not a model id (a-z, 0-9, '.', '_', '-')");
            }

            var runs = r.GetValue(Db) is { } file
                ? await OfflineAsync(file, q => q.ListAsync(query, ct))
                : await OperatorClient.QueryAsync<ListRuns, RunList>(Ctl.Broker(r), query, Ctl.AdaptationRuns, Ctl.Timeout(r), ct);
            Print(r, runs, query.PendingOnly);
            return 0;
        }));

        var run = new Argument<Guid>("run") { Description = "Run id" };
        var show = Ctl.WithConnection(new Command("show", "One run: stages, timings, gate measurements, who approved") { run, Db, Json });
        show.SetAction((r, ct) => Ctl.RunAsync(async () =>
        {
            var id = r.GetValue(run);
            var details = r.GetValue(Db) is { } file
                ? await OfflineAsync(file, q => q.GetAsync(id, ct)) ?? throw new OperatorException($"run {id} is unknown", OperatorException.Refused)
                : await OperatorClient.QueryAsync<GetRun, RunDetails>(Ctl.Broker(r), new GetRun { RunId = id }, Ctl.AdaptationRuns, Ctl.Timeout(r), ct);
            Print(r, details);
            return 0;
        }));

        return new Command("runs", "Adaptation runs") { list, show, RunsWatch.Create() };
    }

    /// <summary>Reads a database file offline (<see cref="OfflineDatabase"/>).</summary>
    private static async Task<T> OfflineAsync<T>(string file, Func<RunQueries, Task<T>> read)
    {
        await using var sp = OfflineDatabase.Open(file, services => services.AddSingleton<RunQueries>());
        return await read(sp.GetRequiredService<RunQueries>());
    }

    private static void Print(ParseResult r, RunList list, bool pending)
    {
        if (r.GetValue(Json))
        {
            Console.WriteLine(JsonSerializer.Serialize(list, JsonOptions));
            return;
        }

        if (list.Runs.Count == 0)
        {
            Console.WriteLine(pending ? "no candidate awaits approval" : "no runs");
            return;
        }

        var table = new Table().AddColumns("run", "model", "versions", "state", "strategy", "detected", pending ? "expires" : "took");
        foreach (var x in list.Runs)
        {
            table.AddRow(x.RunId.ToString(), x.ModelId, $"v{x.BaseVersion} → {(x.CandidateVersion is { } c ? "v" + c : "…")}",
                Colour(x.State), Markup.Escape(x.Strategy ?? ""), x.DetectedAt.ToString("u", CultureInfo.InvariantCulture),
                pending ? x.ApprovalExpiresAt?.ToString("u", CultureInfo.InvariantCulture) ?? ""
                : x.FinishedAt is { } f ? $"{(f - x.DetectedAt).TotalSeconds:F1} s" : "running");
        }

        AnsiConsole.Write(table);
    }

    private static void Print(ParseResult r, RunDetails d)
    {
        if (r.GetValue(Json))
        {
            Console.WriteLine(JsonSerializer.Serialize(d, JsonOptions));
            return;
        }

        var run = d.Run;
        AnsiConsole.MarkupLine($"[bold]run {run.RunId}[/]  {run.ModelId} v{run.BaseVersion} → {(run.CandidateVersion is { } c ? "v" + c : "(no candidate)")}  {Colour(run.State)}");
        if (run.ApprovalExpiresAt is { } expires)
        {
            AnsiConsole.MarkupLine($"[yellow]awaiting approval until {expires:u}[/]: ctl approve|reject {run.RunId} --reason \"…\"");
        }

        if (run.FailureReason is not null)
        {
            AnsiConsole.MarkupLine($"[red]failed in {Markup.Escape(run.FailureStage ?? "?")}: {Markup.Escape(run.FailureReason)}[/]");
        }

        var stages = new Table().Title("stages").AddColumns("at", "state", "seconds in previous", "detail");
        DateTimeOffset? previous = null;
        foreach (var h in d.History)
        {
            stages.AddRow(h.ChangedAt.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture), h.State,
                previous is { } p ? $"{(h.ChangedAt - p).TotalSeconds:F1}" : "", Markup.Escape(h.Detail ?? ""));
            previous = h.ChangedAt;
        }

        AnsiConsole.Write(stages);
        if (d.MaskSelectedFraction is { } fraction)
        {
            AnsiConsole.MarkupLine($"mask: {fraction:P2} of parameters selected");
        }

        if (d.Evaluation is { } e)
        {
            var awaited = run.State == "AwaitingApproval" ? " (awaiting approval)" : "";
            var by = e.Strategy is { } s ? $" {Markup.Escape(s)}" : "";
            var t = new Table().Title($"evaluation of candidate v{e.CandidateVersion}{by}{awaited}: {e.Decision}")
                .AddColumns("", $"production v{e.ProductionVersion}", $"candidate v{e.CandidateVersion}");
            t.AddRow("shifted holdout", P(e.ShiftedBefore), P(e.ShiftedAfter));
            t.AddRow("original holdout", P(e.OriginalBefore), P(e.OriginalAfter));
            AnsiConsole.Write(t);
            var latency = e.LatencyMs is { } ms ? $"candidate latency {ms:F2} ms per batch"
                : e.LatencyIncrease is { } inc ? $"candidate latency {inc.ToString("+0%;-0%;0%", CultureInfo.InvariantCulture)} against production" : "latency not measured";
            AnsiConsole.MarkupLine($"gain {e.ShiftedAfter - e.ShiftedBefore:P2}{Ci(e.GainLower, e.GainUpper)}; " +
                $"forgetting {e.Forgetting:P2}{Ci(e.ForgettingLower, e.ForgettingUpper)}; {latency}");
        }

        TournamentView.Print(d.Tournament, d.Candidates, run.CandidateVersion, run.State);
        foreach (var a in d.Approvals)
        {
            AnsiConsole.MarkupLine($"{a.Decision} by [bold]{Markup.Escape(a.DecidedBy)}[/] ({a.Mode}) at {a.DecidedAt:u}: {Markup.Escape(a.Reason ?? "")}");
        }
    }

    private static string P(double v) => v.ToString("P1", CultureInfo.InvariantCulture);

    internal static string Colour(string state) => state switch
    {
        "Deployed" => "[green]Deployed[/]",
        "Rejected" or "Failed" => $"[red]{state}[/]",
        _ => $"[yellow]{Markup.Escape(state)}[/]",
    };

    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    private static string Ci(double? lower, double? upper) =>
        lower is { } l && upper is { } u ? $" [[{l:P2}, {u:P2}]]" : "";
}
