using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.EvaluationGate;
using Pipeline.Storage.Repositories;
using Spectre.Console;

namespace Pipeline.Standalone.Demo;

/// <summary>The demo's view of the run's tournament and of the gate's promise on unseen data.</summary>
internal static class DemoTournamentView
{
    public static async Task<DemoTournament?> LoadAsync(IServiceProvider services, Guid? runId, CancellationToken ct)
    {
        if (runId is not { } id)
        {
            return null;
        }

        var store = services.GetRequiredService<ITournamentStore>();
        if (await store.GetAsync(id, ct) is not { } t)
        {
            return null;
        }

        var candidates = await store.ListCandidatesAsync(id, ct);
        return new DemoTournament
        {
            ShiftKind = t.ShiftKind, Severity = t.Severity, LabelRows = t.LabelRows,
            Strategies = (t.Strategies ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries),
            PolicyReason = t.PolicyReason, Winner = t.Winner, WinnerReason = t.WinnerReason,
            Candidates = candidates.Select(c => new DemoCandidate
            {
                Strategy = c.Strategy, Version = c.CandidateVersion, State = c.State.ToString(), Decision = c.Decision,
                Gain = c.Gain, GainInterval = [c.GainLower, c.GainUpper], Forgetting = c.Forgetting,
                ForgettingInterval = [c.ForgettingLower, c.ForgettingUpper], LatencyIncrease = c.LatencyIncrease,
                TrainSeconds = c.TrainSeconds, Score = c.Score, Outcome = c.Outcome, Reason = c.Reason,
            }).ToList(),
        };
    }

    /// <summary>The gate's limits as configured for this demo, and whether the deployed model kept them on unseen data.</summary>
    public static DemoPromise Promise(IServiceProvider services, int rows, bool deployed, DemoAccuracy a)
    {
        var gate = new GateOptions();
        services.GetRequiredService<IConfiguration>().GetSection(GateOptions.Section).Bind(gate);
        if (!deployed)
        {
            return new DemoPromise { UnseenRows = rows, MaxForgetting = gate.MaxForgetting, MinGain = gate.MinGain };
        }

        var forgetting = a.OriginalBefore - a.OriginalAfter;
        var gain = a.ShiftedAfter - a.ShiftedBefore;
        return new DemoPromise
        {
            UnseenRows = rows, MaxForgetting = gate.MaxForgetting, MinGain = gate.MinGain, ForgettingUnseen = forgetting, GainUnseen = gain,
            Kept = forgetting <= gate.MaxForgetting && gain >= gate.MinGain,
        };
    }

    /// <summary>
    /// A one-candidate run has no tournament record; the demo names its candidate anyway: the winner when it was
    /// deployed, none otherwise.
    /// </summary>
    public static DemoTournament? Single(IReadOnlyList<Contracts.CandidateTrained> trained, IReadOnlyDictionary<int, Contracts.CandidateEvaluated> evaluated,
        int? deployedVersion)
    {
        if (trained.Count == 0)
        {
            return null;
        }

        var winner = trained.FirstOrDefault(c => c.CandidateVersion == deployedVersion);
        return new DemoTournament
        {
            Strategies = trained.Select(c => c.Strategy).ToList(),
            PolicyReason = "one candidate (Tuning:Candidates = 1): the tuner's own Tuning:Strategy",
            Winner = winner?.Strategy,
            WinnerReason = winner is null ? null : "won: the only candidate, passed the gate and was deployed",
            Candidates = trained.Select(c =>
            {
                evaluated.TryGetValue(c.CandidateVersion, out var e);
                return new DemoCandidate
                {
                    Strategy = c.Strategy, Version = c.CandidateVersion, State = e is null ? "Trained" : "Evaluated", Decision = e?.Decision.ToString(),
                    Gain = e is null ? null : e.ShiftedAccuracyAfter - e.ShiftedAccuracyBefore,
                    GainInterval = [e?.GainInterval?.Lower, e?.GainInterval?.Upper], Forgetting = e?.Forgetting,
                    ForgettingInterval = [e?.ForgettingInterval?.Lower, e?.ForgettingInterval?.Upper],
                    LatencyIncrease = e is null || !e.LatencyJudged || e.LatencyMsBefore <= 0 ? null : (e.LatencyMsAfter - e.LatencyMsBefore) / e.LatencyMsBefore,
                    TrainSeconds = c.TrainSeconds, Outcome = c.CandidateVersion == deployedVersion ? "won" : "lost",
                };
            }).ToList(),
        };
    }

    public static void Print(IAnsiConsole console, DemoTournament? t, DemoPromise? p)
    {
        if (t is not null && t.Candidates.Count > 0)
        {
            var table = new Table().Title($"tournament: {Esc(t.ShiftKind)} shift, severity {Esc(t.Severity)}, {t.LabelRows} labelled rows")
                .AddColumn("strategy").AddColumn("version").AddColumn("gate").AddColumn("gain [[CI]]").AddColumn("forgetting [[CI]]")
                .AddColumn("train s").AddColumn("score").AddColumn("outcome");
            foreach (var c in t.Candidates.OrderByDescending(c => c.Score ?? double.MinValue))
            {
                table.AddRow(Esc(c.Strategy), c.Version is { } v ? $"v{v}" : "-", Esc(c.Decision ?? c.State),
                    Ci(c.Gain, c.GainInterval), Ci(c.Forgetting, c.ForgettingInterval), N(c.TrainSeconds, "F1"),
                    c.Score is { } s ? Pts(s) : "-", c.Outcome == "winner" ? "[green]winner[/]" : Esc(c.Outcome ?? c.State));
            }

            console.Write(table);
            console.MarkupLine($"policy: {Esc(t.PolicyReason)}");
            console.MarkupLine($"verdict: {Esc(t.WinnerReason)}");
            foreach (var c in t.Candidates.Where(c => c.Outcome != "winner"))
            {
                console.MarkupLine($"  {Esc(c.Strategy)}: {Esc(c.Reason)}");
            }
        }

        if (p?.Kept is { } kept)
        {
            console.MarkupLine(string.Create(CultureInfo.InvariantCulture,
                $"promise on {p.UnseenRows} unseen images: forgetting {Pts(p.ForgettingUnseen!.Value)} (max {Pts(p.MaxForgetting)}), " +
                $"gain {Pts(p.GainUnseen!.Value)} (min {Pts(p.MinGain)}): ") + (kept ? "[green]kept[/]" : "[red]BROKEN[/]"));
        }
    }

    private static string Ci(double? estimate, double?[] interval) =>
        estimate is { } e && interval is [{ } lo, { } hi]
            ? string.Create(CultureInfo.InvariantCulture, $"{e * 100:+0.0;-0.0} [[{lo * 100:0.0}, {hi * 100:0.0}]]")
            : "-";

    private static string N(double? v, string format) => v is { } x ? x.ToString(format, CultureInfo.InvariantCulture) : "-";

    private static string Pts(double v) => (v * 100).ToString("+0.00;-0.00;0.00", CultureInfo.InvariantCulture) + " pts";

    private static string Esc(string? s) => Markup.Escape(s ?? "?");
}
