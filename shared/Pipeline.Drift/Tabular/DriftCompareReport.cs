using System.Text.Json;
using System.Text.Json.Serialization;

namespace Pipeline.Drift.Tabular;

/// <summary>The `drift compare` JSON (docs/architecture.md, "Command-line contracts"); extra fields are additive.</summary>
public sealed class DriftCompareReport
{
    /// <summary>Share drifted ≥ the dataset threshold.</summary>
    public bool DatasetDrift { get; init; }
    /// <summary>Drifted features / evaluated features (0 when none could be evaluated).</summary>
    public double ShareDrifted { get; init; }
    /// <summary>Per-feature results, in the reference file's column order.</summary>
    public IReadOnlyList<FeatureReport> Features { get; init; } = [];
    /// <summary>Extra: rows read from the reference file.</summary>
    public int ReferenceRows { get; init; }
    /// <summary>Extra: rows read from the current file.</summary>
    public int CurrentRows { get; init; }
    /// <summary>Extra: features that could be evaluated (denominator of share_drifted).</summary>
    public int EvaluatedFeatures { get; init; }
    /// <summary>Extra: the decision rule, e.g. "ks p < 0.05; chi2 p < 0.05; share >= 0.5".</summary>
    public string DecisionRule { get; init; } = "";

    /// <summary>Serialisation options: snake_case, nulls omitted.</summary>
    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>The report as JSON text.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);
}

/// <summary>One feature in <see cref="DriftCompareReport"/>.</summary>
public sealed class FeatureReport
{
    /// <summary>Column name.</summary>
    public string Name { get; init; } = "";
    /// <summary>"numeric" or "categorical".</summary>
    public string Kind { get; init; } = "numeric";
    /// <summary>Drifted under the decision rule (false when not evaluated).</summary>
    public bool Drifted { get; init; }
    /// <summary>Numeric: KS.</summary>
    public TestReport? Ks { get; init; }
    /// <summary>Categorical: chi-squared.</summary>
    public TestReport? Chi2 { get; init; }
    /// <summary>PSI.</summary>
    public double? Psi { get; init; }
    /// <summary>Numeric: Wasserstein-1.</summary>
    public double? Wasserstein { get; init; }
    /// <summary>Jensen–Shannon distance (base 2).</summary>
    public double? JensenShannon { get; init; }
    /// <summary>Extra: finite values / non-missing cells used from the reference.</summary>
    public long ReferenceCount { get; init; }
    /// <summary>Extra: finite values / non-missing cells used from the current file.</summary>
    public long CurrentCount { get; init; }
    /// <summary>Extra: reference cells left out (missing or ±inf).</summary>
    public long ReferenceExcluded { get; init; }
    /// <summary>Extra: current cells left out (missing or ±inf).</summary>
    public long CurrentExcluded { get; init; }
    /// <summary>Extra, categorical: categories in the current data that the reference lacks.</summary>
    public IReadOnlyList<string>? UnseenCategories { get; init; }
    /// <summary>Extra: why the feature was not evaluated (then the statistics are absent).</summary>
    public string? Error { get; init; }
}

/// <summary>A test statistic and p-value (dof for chi-squared).</summary>
public sealed class TestReport
{
    /// <summary>Statistic.</summary>
    public double Statistic { get; init; }
    /// <summary>p-value.</summary>
    public double PValue { get; init; }
    /// <summary>Degrees of freedom (chi-squared only).</summary>
    public int? Dof { get; init; }
}
