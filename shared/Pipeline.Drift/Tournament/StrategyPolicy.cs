using System.Globalization;

namespace Pipeline.Drift.Tournament;

/// <summary>Section "Tournament": which strategies enter a tournament, and how the winner is scored.</summary>
public sealed class TournamentPolicyOptions
{
    public const string Section = "Tournament";

    /// <summary>Strategies that may enter at all, comma-separated (servable engine v2 strategies).</summary>
    public string Pool { get; set; } = "wise,full,ewc,ties,mist,lora,head,mist-ridge";

    /// <summary>
    /// Preference per kind of shift (Spatial, Intensity, Embedding, Mixed, Unknown), best first, comma-separated; from
    /// the continual benchmark's measurements (docs/ml.md: full and wise learn rotations best, ewc and wise hold noise
    /// and contrast with the least forgetting).
    /// </summary>
    public Dictionary<string, string> Priors { get; set; } = new(StringComparer.OrdinalIgnoreCase)
    {
        [nameof(ShiftKind.Spatial)] = "wise,full,ties,ewc",
        [nameof(ShiftKind.Intensity)] = "wise,ewc,full,mist",
        [nameof(ShiftKind.Embedding)] = "wise,ewc,mist,head",
        [nameof(ShiftKind.Mixed)] = "wise,full,ewc,ties",
        [nameof(ShiftKind.Unknown)] = "wise,full,ewc,ties",
    };

    /// <summary>A strategy that enters early at a severity (High: the most capacity; Low: the smallest change).</summary>
    public Dictionary<string, string> SeverityFirst { get; set; } = new(StringComparer.OrdinalIgnoreCase)
    {
        ["High"] = "full",
        ["Low"] = "mist",
    };

    /// <summary>With fewer labelled rows than this, <see cref="HighCapacity"/> strategies do not enter (they overfit few labels).</summary>
    public int SmallLabelBudget { get; set; } = 300;

    /// <summary>Comma-separated.</summary>
    public string HighCapacity { get; set; } = "full,lora";

    /// <summary>Every strategy name the options mention (for validation against the servable set).</summary>
    public IEnumerable<string> Named() =>
        List(Pool).Concat(Priors.Values.SelectMany(List)).Concat(SeverityFirst.Values).Concat(List(HighCapacity)).Distinct();

    internal static IReadOnlyList<string> List(string? csv) =>
        (csv ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(x => x.ToLowerInvariant()).ToList();

    /// <summary>Earlier decided tournaments of the model the policy reads (newest first).</summary>
    public int HistoryWindow { get; set; } = 20;

    /// <summary>A strategy that entered this many tournaments on the same kind of shift and never won goes to the back.</summary>
    public int DemoteAfterLosses { get; set; } = 3;

    /// <summary>Score weights (docs/decisions.md, "Tournament").</summary>
    public TournamentScoreOptions Score { get; set; } = new();
}

/// <summary>An earlier tournament of the same model: what it answered, who entered, who won (null: none passed).</summary>
public sealed record TournamentHistory(ShiftKind Kind, IReadOnlyList<string> Entered, string? Winner);

/// <summary>The strategies that enter, in order, and why.</summary>
public sealed record PolicyChoice(IReadOnlyList<string> Strategies, string Reason);

/// <summary>
/// Chooses a tournament's entrants: strategies that won earlier tournaments of this model on the same kind of
/// shift first (most wins first), then the severity's pick, then the kind's priors, then the rest of the pool; a
/// small label budget keeps high-capacity strategies out, and a strategy that keeps losing on this kind goes last.
/// </summary>
public static class StrategyPolicy
{
    public static PolicyChoice Choose(ShiftSignature shift, IReadOnlyList<TournamentHistory> history, int candidates, TournamentPolicyOptions o)
    {
        ArgumentNullException.ThrowIfNull(shift);
        ArgumentNullException.ThrowIfNull(history);
        ArgumentNullException.ThrowIfNull(o);
        ArgumentOutOfRangeException.ThrowIfLessThan(candidates, 1);
        var why = new List<string> { shift.ToString() };

        var similar = history.Take(o.HistoryWindow).Where(h => h.Kind == shift.Kind).ToList();
        var wins = similar.Where(h => h.Winner is not null).GroupBy(h => h.Winner!)
            .Select(g => (Strategy: g.Key, Wins: g.Count(), Latest: similar.FindIndex(h => h.Winner == g.Key)))
            .OrderByDescending(w => w.Wins).ThenBy(w => w.Latest).ToList();
        if (wins.Count > 0)
        {
            why.Add("won before on this kind of shift: " + string.Join(", ", wins.Select(w => $"{w.Strategy} ×{w.Wins}")));
        }

        var pool = TournamentPolicyOptions.List(o.Pool);
        var losers = pool.Where(s => wins.All(w => w.Strategy != s)
            && similar.Count(h => h.Entered.Contains(s)) >= o.DemoteAfterLosses).ToList();
        if (losers.Count > 0)
        {
            why.Add($"never won in {o.DemoteAfterLosses}+ entries, last: " + string.Join(", ", losers));
        }

        var order = new List<string>();
        order.AddRange(wins.Select(w => w.Strategy));
        if (o.SeverityFirst.TryGetValue(shift.Severity, out var first))
        {
            order.Add(first.Trim().ToLowerInvariant());
            why.Add($"severity {shift.Severity}: {first} enters early");
        }

        if (o.Priors.TryGetValue(shift.Kind.ToString(), out var priors))
        {
            order.AddRange(TournamentPolicyOptions.List(priors));
        }

        order.AddRange(pool);
        var excluded = new List<string>();
        if (shift.LabelRows is { } rows && rows < o.SmallLabelBudget)
        {
            excluded.AddRange(TournamentPolicyOptions.List(o.HighCapacity));
            why.Add(string.Create(CultureInfo.InvariantCulture, $"{rows} labelled rows < {o.SmallLabelBudget}: no {string.Join("/", excluded)}"));
        }

        var chosen = order.Distinct().Where(s => pool.Contains(s) && !excluded.Contains(s))
            .OrderBy(s => losers.Contains(s)) // stable: keeps the order otherwise
            .Take(candidates).ToList();
        if (chosen.Count == 0)
        {
            chosen = pool.Take(candidates).ToList();
            why.Add("every preferred strategy was excluded; the pool's first enter");
        }

        return new PolicyChoice(chosen, string.Join("; ", why));
    }
}
