using System.Text.Json;
using System.Text.Json.Serialization;

namespace Pipeline.Inference;

/// <summary>
/// The Open Inference Protocol v2 (KServe, Triton, MLServer) as served here: its REST request and answer objects,
/// and the names and datatypes of this service's tensors. Spec: kserve.github.io/website, "Open Inference Protocol
/// (V2 Inference Protocol)", and Triton's binary tensor data extension.
/// </summary>
public static class OpenInference
{
    /// <summary>The one input tensor of every model: rows of the model's input shape.</summary>
    public const string InputName = "input";

    /// <summary>Output: softmax probabilities, FP32 [N, classes].</summary>
    public const string ProbabilitiesName = "probabilities";

    /// <summary>Output: arg-max class index, INT32 [N].</summary>
    public const string ClassName = "predicted_class";

    /// <summary>The header giving the JSON part's length when binary tensor data follows it.</summary>
    public const string HeaderLength = "Inference-Header-Content-Length";

    public const string BinaryDataSize = "binary_data_size";

    public const string BinaryData = "binary_data";

    public const string BinaryDataOutput = "binary_data_output";

    /// <summary>The answer's parameter carrying the batch id that POST /feedback takes.</summary>
    public const string BatchIdParameter = "batch_id";
}

/// <summary>POST /v2/models/{name}/infer.</summary>
public sealed record InferRequest
{
    [JsonPropertyName("id")]
    public string? Id { get; init; }

    [JsonPropertyName("parameters")]
    public Dictionary<string, JsonElement>? Parameters { get; init; }

    [JsonPropertyName("inputs")]
    public required InferInputTensor[] Inputs { get; init; }

    [JsonPropertyName("outputs")]
    public InferRequestedOutput[]? Outputs { get; init; }
}

public sealed record InferInputTensor
{
    [JsonPropertyName("name")]
    public required string Name { get; init; }

    /// <summary>[N, …input shape] or [N, values per row].</summary>
    [JsonPropertyName("shape")]
    public required long[] Shape { get; init; }

    /// <summary>FP32 or UINT8.</summary>
    [JsonPropertyName("datatype")]
    public required string Datatype { get; init; }

    /// <summary><c>binary_data_size</c>: the tensor's bytes follow the JSON header instead of <c>data</c>.</summary>
    [JsonPropertyName("parameters")]
    public Dictionary<string, JsonElement>? Parameters { get; init; }

    /// <summary>The values in row-major order, flat or nested by the shape.</summary>
    [JsonPropertyName("data")]
    public JsonElement? Data { get; init; }
}

public sealed record InferRequestedOutput
{
    [JsonPropertyName("name")]
    public required string Name { get; init; }

    /// <summary><c>binary_data: true</c> asks for the output as raw bytes after the JSON header.</summary>
    [JsonPropertyName("parameters")]
    public Dictionary<string, JsonElement>? Parameters { get; init; }
}

public sealed record InferResponse
{
    [JsonPropertyName("model_name")]
    public required string ModelName { get; init; }

    [JsonPropertyName("model_version")]
    public required string ModelVersion { get; init; }

    [JsonPropertyName("id")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Id { get; init; }

    /// <summary><c>batch_id</c>: the observation batch, for POST /models/{model}/feedback.</summary>
    [JsonPropertyName("parameters")]
    public required Dictionary<string, string> Parameters { get; init; }

    [JsonPropertyName("outputs")]
    public required InferOutputTensor[] Outputs { get; init; }
}

public sealed record InferOutputTensor
{
    [JsonPropertyName("name")]
    public required string Name { get; init; }

    [JsonPropertyName("shape")]
    public required long[] Shape { get; init; }

    [JsonPropertyName("datatype")]
    public required string Datatype { get; init; }

    [JsonPropertyName("parameters")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Dictionary<string, long>? Parameters { get; init; }

    /// <summary>Row-major values; absent when the output was asked for as binary data.</summary>
    [JsonPropertyName("data")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public float[]? Data { get; init; }
}

/// <summary>GET /v2/models/{name}.</summary>
public sealed record ModelMetadataResponse
{
    [JsonPropertyName("name")]
    public required string Name { get; init; }

    [JsonPropertyName("versions")]
    public required string[] Versions { get; init; }

    [JsonPropertyName("platform")]
    public required string Platform { get; init; }

    [JsonPropertyName("inputs")]
    public required TensorMetadata[] Inputs { get; init; }

    [JsonPropertyName("outputs")]
    public required TensorMetadata[] Outputs { get; init; }
}

public sealed record TensorMetadata
{
    [JsonPropertyName("name")]
    public required string Name { get; init; }

    [JsonPropertyName("datatype")]
    public required string Datatype { get; init; }

    /// <summary>−1 is the batch dimension.</summary>
    [JsonPropertyName("shape")]
    public required long[] Shape { get; init; }
}

/// <summary>GET /v2.</summary>
public sealed record ServerMetadataResponse
{
    [JsonPropertyName("name")]
    public required string Name { get; init; }

    [JsonPropertyName("version")]
    public required string Version { get; init; }

    [JsonPropertyName("extensions")]
    public required string[] Extensions { get; init; }
}
