using System.Globalization;
using Pipeline.Contracts;
using Spectre.Console;

namespace Pipeline.Cli.Commands;

/// <summary>runs show: the run's tournament (policy choice, every candidate, the gate's intervals, score, why it won or lost).</summary>
internal static class TournamentView
{
    /// <summary>
    /// The tournament; the run's candidate (<paramref name="chosen"/>, the one awaiting approval or decided) is marked,
    /// the other entrants are listed as such.
    /// </summary>
    public static void Print(RunTournamentSummary? t, IReadOnlyList<RunCandidateSummary> candidates, int? chosen = null, string? runState = null)
    {
        if (t is null)
        {
            return;
        }

        AnsiConsole.MarkupLine($"tournament: {Esc(t.ShiftKind)} shift, severity {Esc(t.Severity)}, {t.LabelRows} labelled rows; " +
            $"entered {Esc(t.Strategies)}");
        AnsiConsole.MarkupLine($"policy: {Esc(t.PolicyReason)}");
        var table = new Table().AddColumns("strategy", "version", "state", "gate", "gain [[CI]]", "forgetting [[CI]]", "latency", "train s", "score", "outcome", "role");
        foreach (var c in candidates.OrderByDescending(c => c.Score ?? double.MinValue))
        {
            table.AddRow(Esc(c.Strategy), c.CandidateVersion is { } v ? $"v{v}" : "-", c.State, Esc(c.Decision ?? "-"),
                Ci(c.Gain, c.GainLower, c.GainUpper), Ci(c.Forgetting, c.ForgettingLower, c.ForgettingUpper),
                c.LatencyIncrease is { } l ? l.ToString("+0%;-0%;0%", CultureInfo.InvariantCulture) : "-",
                c.TrainSeconds is { } s ? s.ToString("F1", CultureInfo.InvariantCulture) : "-",
                c.Score is { } sc ? (sc * 100).ToString("+0.00;-0.00", CultureInfo.InvariantCulture) : "-", Esc(c.Outcome ?? "-"), Role(c, chosen, runState));
        }

        AnsiConsole.Write(table);
        foreach (var c in candidates.Where(c => c.Reason is not null))
        {
            AnsiConsole.MarkupLine($"  {Esc(c.Strategy)}: {Esc(c.Reason)}");
        }

        AnsiConsole.MarkupLine($"verdict: {Esc(t.WinnerReason ?? "not decided")}");
    }

    private static string Role(RunCandidateSummary c, int? chosen, string? runState) =>
        chosen is { } v && c.CandidateVersion == v
            ? runState == "AwaitingApproval" ? "[yellow]awaiting approval[/]" : "the run's candidate"
            : "other entrant";

    private static string Ci(double? e, double? lo, double? hi) =>
        e is { } x ? string.Create(CultureInfo.InvariantCulture, $"{x * 100:+0.0;-0.0}") + (lo is { } l && hi is { } h
            ? string.Create(CultureInfo.InvariantCulture, $" [[{l * 100:0.0}, {h * 100:0.0}]]") : "") : "-";

    private static string Esc(string? s) => Markup.Escape(s ?? "?");
}
