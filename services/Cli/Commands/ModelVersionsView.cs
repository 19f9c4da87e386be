using System.Globalization;
using Pipeline.Artifacts;
using Pipeline.Contracts;
using Spectre.Console;

namespace Pipeline.Cli.Commands;

/// <summary>
/// <c>models versions</c>: every version with what became of it (production, deployed then superseded or rolled
/// back, rejected, lost a tournament, awaiting approval, registered), the run that made it and its strategy. The
/// status comes from the registry (production version, each version's run and strategy) and the run owner's runs.
/// </summary>
public static class ModelVersionsView
{
    /// <summary>One line per version: its status and why.</summary>
    public static string Status(CatalogModel model, CatalogVersion v, IReadOnlyDictionary<Guid, RunSummary> runs)
    {
        if (v.Version == model.ProductionVersion)
        {
            return "production";
        }

        var meta = VersionMetadata.Parse(v.Metadata);
        if (meta.RunId is not { } runId)
        {
            return "registered";
        }

        if (!runs.TryGetValue(runId, out var run))
        {
            return "made by a run (not found)";
        }

        if (run.CandidateVersion != v.Version)
        {
            return run.CandidateVersion is { } winner ? $"lost tournament to v{winner}" : run.State == "Failed" ? "run failed" : "candidate (run undecided)";
        }

        return run.State switch
        {
            // Production went back to an older version than this deployed one: it was rolled back.
            "Deployed" => model.ProductionVersion is { } p && p < v.Version ? "rolled back" : "superseded",
            "Rejected" => "rejected",
            "AwaitingApproval" => "awaiting approval",
            "Failed" => "run failed",
            _ => run.State.ToLowerInvariant(),
        };
    }

    public static void Print(CatalogModel m, IReadOnlyDictionary<Guid, RunSummary>? runs)
    {
        var table = new Table().AddColumns("version", "status", "run", "strategy", "architecture", "parameters", "created");
        foreach (var v in m.Versions.OrderBy(v => v.Version))
        {
            var meta = VersionMetadata.Parse(v.Metadata);
            var status = runs is null ? (v.Version == m.ProductionVersion ? "production" : "?") : Status(m, v, runs);
            table.AddRow($"v{v.Version}", Markup.Escape(status), meta.RunId?.ToString() ?? "-", Markup.Escape(meta.Strategy ?? "-"),
                Markup.Escape(v.Architecture), v.ParamsTotal.ToString("N0", CultureInfo.InvariantCulture),
                $"{v.CreatedAt.ToString("u", CultureInfo.InvariantCulture)} by {Markup.Escape(v.CreatedBy)}");
        }

        AnsiConsole.Write(table);
        if (runs is null)
        {
            AnsiConsole.MarkupLine("[yellow]the run owner (adaptation-runs) did not answer: statuses other than production are unknown[/]");
        }
    }
}
