using System.Text.Json.Serialization;
using Pipeline.ML.Data;

namespace Pipeline.ML.Models;

/// <summary>Metadata stored with a model file.</summary>
public sealed record ModelInfo
{
    /// <summary>Architecture name ("cnn-small", "mlp", "torchscript").</summary>
    [JsonPropertyName("architecture")]
    public required string Architecture { get; init; }

    /// <summary>Input shape of one sample, e.g. [1, 28, 28] or [12].</summary>
    [JsonPropertyName("input_shape")]
    public int[] InputShape { get; init; } = [];

    /// <summary>Class names, index = label.</summary>
    [JsonPropertyName("classes")]
    public string[] Classes { get; init; } = [];

    /// <summary>Total number of parameter elements.</summary>
    [JsonPropertyName("params_total")]
    public long ParamsTotal { get; init; }

    /// <summary>How many sparse adaptations this model has been through.</summary>
    [JsonPropertyName("adaptations")]
    public int Adaptations { get; init; }

    /// <summary>Free-form description (e.g. how it was trained).</summary>
    [JsonPropertyName("notes")]
    public string? Notes { get; init; }

    /// <summary>"unit" (inputs in [0, 1]) or "raw"; see <see cref="ModelManifest"/>.</summary>
    [JsonPropertyName("input_scale")]
    public string InputScale { get; init; } = ModelManifest.UnitScale;

    /// <summary>Parameters named <c>{prefix}.…</c> form the final layer.</summary>
    [JsonPropertyName("classifier_prefix")]
    public string ClassifierPrefix { get; init; } = "classifier";

    /// <summary>The TorchScript method returning penultimate features (null: none, or a built-in model).</summary>
    [JsonPropertyName("embedding_method")]
    public string? EmbeddingMethod { get; init; }

    /// <summary>Tabular columns (null for image models).</summary>
    [JsonPropertyName("features")]
    public FeatureSpec[]? Features { get; init; }

    /// <summary>The manifest's model name (user models).</summary>
    [JsonPropertyName("name")]
    public string? Name { get; init; }

    /// <summary>The metadata of a user's model described by <paramref name="manifest"/>.</summary>
    public static ModelInfo FromManifest(ModelManifest manifest)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        return new ModelInfo
        {
            Architecture = TorchScriptNetwork.ArchitectureName,
            Name = manifest.Name,
            InputShape = manifest.InputShape ?? [],
            Classes = manifest.Classes ?? [],
            InputScale = manifest.Scale,
            ClassifierPrefix = manifest.ClassifierPrefix ?? "",
            EmbeddingMethod = manifest.EmbeddingMethod,
            Features = manifest.Features,
        };
    }

    /// <summary>The manifest that describes this model (for export beside an adapted TorchScript file).</summary>
    public ModelManifest ToManifest() => new()
    {
        Name = Name ?? Architecture,
        Format = ModelManifest.TorchScriptFormat,
        InputShape = InputShape,
        InputScale = InputScale,
        Classes = Classes,
        EmbeddingMethod = EmbeddingMethod,
        ClassifierPrefix = ClassifierPrefix,
        Features = Features,
    };
}

/// <summary>One prediction: the arg-max class and the softmax probabilities.</summary>
public sealed record Prediction(int Class, float[] Probabilities);
