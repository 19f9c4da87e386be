using System.Globalization;
using Pipeline.Contracts;
using Pipeline.ML.Data;

namespace Pipeline.ML.Benchmarks;

/// <summary>
/// Turns <c>bench continual</c> results into the policy's evidence table: per regime (its kind and severity) and
/// strategy, the mean gain of the adaptation to it, the forgetting that adaptation caused, and the cost relative to
/// retraining. The tabular regime's shifts are Tabular; other regimes of a user's own data (no built-in scenario) have
/// no known kind and are left out.
/// </summary>
public static class StrategyEvidenceBuilder
{
    /// <summary>The table of <paramref name="runs"/>; <paramref name="sources"/> names them in the table.</summary>
    public static StrategyEvidenceTable Build(IReadOnlyList<ContinualBenchmarkResult> runs, IReadOnlyList<string> sources, string command)
    {
        ArgumentNullException.ThrowIfNull(runs);
        ArgumentNullException.ThrowIfNull(sources);
        var cells = new List<(string Kind, string Severity, string Regime, string Strategy, double Gain, double Forgetting, double? Passes)>();
        // A run of some methods only (e.g. the readout controls) shares retrain's cost with the run of the same seed,
        // sequence and budget that has it: the same base model, data and protocol.
        static string Protocol(ContinualBenchmarkResult r) => $"{r.Seed}|{r.Budget}|{string.Join(",", r.Sequence)}";
        var retrainOf = runs
            .SelectMany(r => r.Results.Where(m => m.Method == "retrain").Select(m => (Key: Protocol(r), m.SamplePasses)))
            .GroupBy(x => x.Key).ToDictionary(g => g.Key, g => g.First().SamplePasses);
        foreach (var run in runs)
        {
            // A user's model cannot be retrained here: its run counts retrain's passes from the model's training recipe.
            long? retrain = retrainOf.TryGetValue(Protocol(run), out var passes) ? passes : run.RetrainReferencePasses;
            foreach (var m in run.Results)
            {
                for (var t = 1; t < run.Sequence.Count && t <= m.AccMatrix.Count; t++)
                {
                    if (RegimeOf(run, run.Sequence[t]) is not { } regime) continue;
                    var before = t == 1 ? run.Base.Acc : m.AccMatrix[t - 2];
                    var after = m.AccMatrix[t - 1];
                    var forgetting = Enumerable.Range(0, t).Average(j => before[j] - after[j]);
                    var drop = run.Base.Acc[0] - run.Base.Acc[t];
                    cells.Add((regime.Kind, SeverityOf(drop), regime.Name, m.Method, after[t] - before[t], forgetting,
                        retrain is > 0 ? m.SamplePasses / (double)retrain : null));
                }
            }
        }

        var rows = cells.GroupBy(c => (c.Kind, c.Severity, c.Regime, c.Strategy))
            .Select(g => new EvidenceRow
            {
                Kind = g.Key.Kind, Severity = g.Key.Severity, Regime = g.Key.Regime, Strategy = g.Key.Strategy, N = g.Count(),
                Gain = Math.Round(g.Average(c => c.Gain), 4), Forgetting = Math.Round(g.Average(c => c.Forgetting), 4),
                PassesVsRetrain = g.All(c => c.Passes is null) ? null : Math.Round(g.Where(c => c.Passes is not null).Average(c => c.Passes!.Value), 4),
            })
            .OrderBy(r => r.Kind, StringComparer.Ordinal).ThenBy(r => r.Regime, StringComparer.Ordinal).ThenByDescending(r => r.Gain - r.Forgetting)
            .ToList();
        var budgets = runs.Select(r => r.Budget).Distinct().ToList();
        return new StrategyEvidenceTable
        {
            GeneratedBy = command,
            Budget = budgets.Count == 1 ? budgets[0] : string.Join("+", budgets),
            Sources = runs.Select((r, i) => string.Create(CultureInfo.InvariantCulture,
                $"{Path.GetFileName(sources[i])}: seed {r.Seed}, {r.Budget}, {string.Join(",", r.Sequence.Skip(1))}")).ToList(),
            Rows = rows,
        };
    }

    /// <summary>The kind and name of a regime of <paramref name="run"/>, or null when its kind is not known.</summary>
    private static (string Kind, string Name)? RegimeOf(ContinualBenchmarkResult run, string name)
    {
        if (run.Dataset == "csv") return name.StartsWith(TabularPrefix, StringComparison.Ordinal) ? ("Tabular", name) : null;
        return DriftScenario.TryParse(name, out var scenario) && scenario is not null && KindOf(scenario) is { } kind ? (kind, scenario.Name) : null;
    }

    /// <summary>
    /// The tabular regime's shifts (<c>bench continual --sequence tabular-mean,…</c>): columns of a tabular model's input
    /// moved, which the drift report reads as Tabular. Other CSV regimes are a user's own, of no known kind.
    /// </summary>
    public const string TabularPrefix = "tabular-";

    /// <summary>
    /// The kind of shift the drift report reads for a built-in scenario: rotation and blur move where the ink is (the
    /// pooled cells) → Spatial; noise, contrast, brightness and inversion move the global intensity statistics →
    /// Intensity; a prior shift changes only the predictions → Embedding.
    /// </summary>
    public static string? KindOf(DriftScenario scenario)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        return scenario.Kind switch
        {
            "rotate" or "blur" => "Spatial",
            "noise" or "contrast" or "brightness" or "invert" => "Intensity",
            "prior-shift" => "Embedding",
            _ => null,
        };
    }

    /// <summary>Low, Medium or High from the base model's accuracy loss on the regime.</summary>
    public static string SeverityOf(double accuracyDrop) => accuracyDrop switch
    {
        < 0.10 => "Low",
        < 0.25 => "Medium",
        _ => "High",
    };
}
