using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace Pipeline.ML.Models;

/// <summary>A tabular input column: its name and whether drift statistics treat it as numeric or categorical.</summary>
public sealed record FeatureSpec
{
    /// <summary>"numeric" (KS, PSI, Wasserstein, JS) or "categorical" (chi-squared; values are category codes).</summary>
    public const string Numeric = "numeric";

    /// <summary>See <see cref="Numeric"/>.</summary>
    public const string Categorical = "categorical";

    /// <summary>Column name (also its header in reference CSV files).</summary>
    [JsonPropertyName("name")]
    public string Name { get; init; } = "";

    /// <summary>"numeric" or "categorical".</summary>
    [JsonPropertyName("kind")]
    public string Kind { get; init; } = "";

    /// <summary>
    /// A categorical column's number of categories: its codes are the integers 0 … cardinality − 1, and serving
    /// refuses any other value with a 400. Optional (then codes are not range-checked); numeric columns have none.
    /// </summary>
    [JsonPropertyName("cardinality")]
    public int? Cardinality { get; init; }
}

/// <summary>
/// The JSON a user ships beside a TorchScript model (docs/models.md): what the module takes and returns and which
/// of its parameters form the classifier layer. <see cref="Parse"/> reports every problem at once.
/// </summary>
public sealed record ModelManifest
{
    /// <summary>The only model file format.</summary>
    public const string TorchScriptFormat = "torchscript";

    /// <summary>Inputs are floats in [0, 1] (IDX bytes / 255).</summary>
    public const string UnitScale = "unit";

    /// <summary>Inputs are passed as given (tabular values, already standardised images, …).</summary>
    public const string RawScale = "raw";

    private static readonly Regex Identifier = new("^[A-Za-z_][A-Za-z0-9_]*$", RegexOptions.CultureInvariant);
    private static readonly Regex Prefix = new("^[A-Za-z0-9_]+(\\.[A-Za-z0-9_]+)*$", RegexOptions.CultureInvariant);
    private static readonly Regex NamePattern = new("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", RegexOptions.CultureInvariant);

    private static readonly JsonSerializerOptions Json = new()
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Human name of the model.</summary>
    [JsonPropertyName("name")]
    public string? Name { get; init; }

    /// <summary>"torchscript".</summary>
    [JsonPropertyName("format")]
    public string? Format { get; init; }

    /// <summary>One input without the batch dimension, e.g. [1, 28, 28] or [12].</summary>
    [JsonPropertyName("input_shape")]
    public int[]? InputShape { get; init; }

    /// <summary>"unit" or "raw" (default "raw").</summary>
    [JsonPropertyName("input_scale")]
    public string? InputScale { get; init; }

    /// <summary>Class names, index = the logit's position.</summary>
    [JsonPropertyName("classes")]
    public string[]? Classes { get; init; }

    /// <summary>An exported method returning penultimate features [N, D] (optional).</summary>
    [JsonPropertyName("embedding_method")]
    public string? EmbeddingMethod { get; init; }

    /// <summary>Parameters named <c>{prefix}.…</c> form the final layer.</summary>
    [JsonPropertyName("classifier_prefix")]
    public string? ClassifierPrefix { get; init; }

    /// <summary>Tabular columns in input order (then <c>input_shape</c> must be [features.length]).</summary>
    [JsonPropertyName("features")]
    public FeatureSpec[]? Features { get; init; }

    /// <summary>The effective input scale.</summary>
    [JsonIgnore]
    public string Scale => InputScale ?? RawScale;

    /// <summary>Reads and validates a manifest file.</summary>
    /// <exception cref="ModelValidationException">Unreadable JSON or any invalid field (all listed).</exception>
    public static ModelManifest Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path)) throw new ModelValidationException([$"manifest {path} does not exist"]);
        return Parse(File.ReadAllText(path));
    }

    /// <summary>Parses and validates manifest JSON.</summary>
    /// <exception cref="ModelValidationException">Unreadable JSON or any invalid field (all listed).</exception>
    public static ModelManifest Parse(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        ModelManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<ModelManifest>(json, Json);
        }
        catch (JsonException ex)
        {
            var unknown = ManifestFields.Unknown(json);
            throw new ModelValidationException(unknown.Count > 0 ? unknown : [$"manifest is not valid JSON for a manifest: {ex.Message}"]);
        }
        if (manifest is null) throw new ModelValidationException(["manifest is empty (null)"]);
        var errors = manifest.Validate();
        if (errors.Count > 0) throw new ModelValidationException(errors);
        return manifest;
    }

    /// <summary>Every problem of the manifest (empty when valid).</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(Name)) errors.Add("name is missing");
        else if (!NamePattern.IsMatch(Name)) errors.Add($"name '{Name}' must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit");

        if (Format is null) errors.Add("format is missing (use \"torchscript\")");
        else if (Format != TorchScriptFormat) errors.Add($"format '{Format}' is not supported (use \"torchscript\")");

        if (InputShape is null || InputShape.Length == 0) errors.Add("input_shape is missing (one input without the batch dimension, e.g. [1, 28, 28] or [12])");
        else if (InputShape.Length > 4) errors.Add($"input_shape [{string.Join(", ", InputShape)}] has {InputShape.Length} dimensions; at most 4 are supported");
        else if (InputShape.Any(d => d <= 0)) errors.Add($"input_shape [{string.Join(", ", InputShape)}] must have positive dimensions");
        else if (InputShape.Aggregate(1L, (a, d) => a * d) > 1 << 22) errors.Add($"input_shape [{string.Join(", ", InputShape)}] has more than 4194304 values per row");

        if (InputScale is not null && InputScale != UnitScale && InputScale != RawScale)
            errors.Add($"input_scale '{InputScale}' must be \"unit\" (floats in [0, 1]) or \"raw\"");

        if (Classes is null || Classes.Length == 0) errors.Add("classes is missing (the class names, in logit order)");
        else if (Classes.Length < 2) errors.Add("classes must name at least 2 classes");
        else if (Classes.Any(string.IsNullOrWhiteSpace)) errors.Add("classes must not contain empty names");
        else if (Classes.Distinct(StringComparer.Ordinal).Count() != Classes.Length)
            errors.Add($"classes has duplicates: {string.Join(", ", Classes.GroupBy(c => c).Where(g => g.Count() > 1).Select(g => g.Key))}");

        if (EmbeddingMethod is not null && !Identifier.IsMatch(EmbeddingMethod))
            errors.Add($"embedding_method '{EmbeddingMethod}' is not a method name");

        if (string.IsNullOrWhiteSpace(ClassifierPrefix)) errors.Add("classifier_prefix is missing (the name prefix of the final layer's parameters, e.g. \"classifier\" or \"fc\")");
        else if (!Prefix.IsMatch(ClassifierPrefix)) errors.Add($"classifier_prefix '{ClassifierPrefix}' is not a parameter name prefix like \"head\" or \"net.4\"");

        if (Features is not null)
        {
            for (var i = 0; i < Features.Length; i++)
            {
                var f = Features[i];
                if (f is null || string.IsNullOrWhiteSpace(f.Name)) errors.Add($"features[{i}] has no name");
                if (f is not null && f.Kind != FeatureSpec.Numeric && f.Kind != FeatureSpec.Categorical)
                    errors.Add($"features[{i}] ({f.Name}) kind '{f.Kind}' must be \"numeric\" or \"categorical\"");
                if (f?.Cardinality is { } card && (f.Kind != FeatureSpec.Categorical || card < 1 || card > 1 << 24))
                    errors.Add($"features[{i}] ({f.Name}) cardinality {card} must be a number of categories from 1 to 16777216, on a categorical column only");
            }
            var dupes = Features.Where(f => f is not null).GroupBy(f => f.Name, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
            if (dupes.Count > 0) errors.Add($"features has duplicate names: {string.Join(", ", dupes)}");
            if (InputShape is { Length: > 0 } s && (s.Length != 1 || s[0] != Features.Length))
                errors.Add($"features lists {Features.Length} columns, so input_shape must be [{Features.Length}], not [{string.Join(", ", s)}]");
        }
        return errors;
    }

    /// <summary>The manifest as indented JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);
}

/// <summary>A model or manifest that cannot be registered, with every reason.</summary>
public sealed class ModelValidationException : Exception
{
    /// <summary>Creates the exception from its reasons.</summary>
    public ModelValidationException(IReadOnlyList<string> errors)
        : base(string.Join("; ", errors ?? throw new ArgumentNullException(nameof(errors))))
    {
        Errors = errors;
    }

    /// <summary>Creates the exception from one reason.</summary>
    public ModelValidationException(string error, Exception inner)
        : base(error, inner)
    {
        Errors = [error];
    }

    /// <summary>Every reason, one per problem.</summary>
    public IReadOnlyList<string> Errors { get; }
}
