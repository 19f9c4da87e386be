using System.Text.Json;
using System.Text.Json.Serialization;

namespace Pipeline.Contracts;

/// <summary>
/// What the continual benchmark measured for one strategy on one kind and severity of shift: the
/// tournament's policy reads these rows, the benchmark writes them (<c>./pipeline bench continual --evidence</c>).
/// </summary>
public sealed record EvidenceRow
{
    /// <summary>Kind of shift as the drift report reads it: Spatial, Intensity, Embedding, Mixed or Unknown.</summary>
    [JsonPropertyName("kind")] public required string Kind { get; init; }

    /// <summary>Low, Medium or High: the base model's accuracy loss on the regime (&lt; 10, &lt; 25, ≥ 25 points).</summary>
    [JsonPropertyName("severity")] public required string Severity { get; init; }

    /// <summary>The benchmark regime, e.g. rotate-30.</summary>
    [JsonPropertyName("regime")] public required string Regime { get; init; }

    [JsonPropertyName("strategy")] public required string Strategy { get; init; }

    /// <summary>Adaptations averaged (runs × occurrences of the regime).</summary>
    [JsonPropertyName("n")] public int N { get; init; }

    /// <summary>Accuracy on the regime right after adapting to it minus right before (the model as it came in).</summary>
    [JsonPropertyName("gain")] public double Gain { get; init; }

    /// <summary>Mean accuracy lost by that adaptation on the original data and every earlier regime.</summary>
    [JsonPropertyName("forgetting")] public double Forgetting { get; init; }

    /// <summary>The strategy's sample passes over the whole sequence / retrain's in the same runs (null: no retrain row).</summary>
    [JsonPropertyName("passes_vs_retrain")] public double? PassesVsRetrain { get; init; }
}

/// <summary>The evidence table shipped in docs/results/strategy-evidence.json.</summary>
public sealed record StrategyEvidenceTable
{
    /// <summary>The command that wrote the table.</summary>
    [JsonPropertyName("generated_by")] public string GeneratedBy { get; init; } = "";

    /// <summary>Budget of the runs (quick, full or mixed).</summary>
    [JsonPropertyName("budget")] public string Budget { get; init; } = "";

    /// <summary>The benchmark JSON files read (seed and order of each).</summary>
    [JsonPropertyName("sources")] public List<string> Sources { get; init; } = [];

    [JsonPropertyName("rows")] public List<EvidenceRow> Rows { get; init; } = [];

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static StrategyEvidenceTable FromJson(string json) =>
        JsonSerializer.Deserialize<StrategyEvidenceTable>(json, Json) ?? throw new InvalidDataException("empty evidence table");
}
