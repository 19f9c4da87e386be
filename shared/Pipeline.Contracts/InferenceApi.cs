using System.Text.Json.Serialization;

namespace Pipeline.Contracts;

/// <summary>POST /predict body.</summary>
public sealed record PredictRequest
{
    /// <summary>Rows of the model's input, flattened row-major (GET /models/{model} gives the shape); values in [0, 1] for unit-scale models.</summary>
    [JsonPropertyName("instances")]
    public float[]?[]? Instances { get; init; }
}

/// <summary>POST /predict answer.</summary>
public sealed record PredictResponse
{
    [JsonPropertyName("modelId")]
    public required string ModelId { get; init; }

    [JsonPropertyName("version")]
    public required int Version { get; init; }

    /// <summary>Identifies this request as an observation batch; send labels for it to POST /feedback.</summary>
    [JsonPropertyName("batchId")]
    public required Guid BatchId { get; init; }

    [JsonPropertyName("predictions")]
    public required IReadOnlyList<PredictionItem> Predictions { get; init; }
}

public sealed record PredictionItem
{
    [JsonPropertyName("class")]
    public required int Class { get; init; }

    [JsonPropertyName("label")]
    public required string Label { get; init; }

    /// <summary>Probability of the predicted class.</summary>
    [JsonPropertyName("confidence")]
    public required float Confidence { get; init; }

    [JsonPropertyName("probabilities")]
    public required float[] Probabilities { get; init; }
}

/// <summary>POST /feedback body: the true labels of an earlier prediction batch, in row order.</summary>
public sealed record FeedbackRequest
{
    [JsonPropertyName("batchId")]
    public Guid? BatchId { get; init; }

    [JsonPropertyName("labels")]
    public int[]? Labels { get; init; }
}

public sealed record FeedbackResponse
{
    [JsonPropertyName("modelId")]
    public required string ModelId { get; init; }

    [JsonPropertyName("batchId")]
    public required Guid BatchId { get; init; }

    [JsonPropertyName("count")]
    public required int Count { get; init; }
}

/// <summary>GET /model answer.</summary>
public sealed record ModelStatus
{
    [JsonPropertyName("modelId")]
    public required string ModelId { get; init; }

    [JsonPropertyName("version")]
    public required int Version { get; init; }

    [JsonPropertyName("architecture")]
    public required string Architecture { get; init; }

    [JsonPropertyName("loadedAt")]
    public required DateTimeOffset LoadedAt { get; init; }

    [JsonPropertyName("sha256")]
    public required string Sha256 { get; init; }

    [JsonPropertyName("classes")]
    public required IReadOnlyList<string> Classes { get; init; }

    /// <summary>One row's shape; a request row holds the product of these values, row-major.</summary>
    [JsonPropertyName("inputShape")]
    public IReadOnlyList<int> InputShape { get; init; } = [];

    /// <summary>"unit" (values in [0, 1]) or "raw".</summary>
    [JsonPropertyName("inputScale")]
    public string InputScale { get; init; } = "unit";

    /// <summary>Column names of a tabular model, in row order.</summary>
    [JsonPropertyName("features")]
    public IReadOnlyList<string>? Features { get; init; }
}
