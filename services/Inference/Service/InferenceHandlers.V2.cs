using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Pipeline.Inference;

/// <summary>
/// The Open Inference Protocol v2 routes: infer with JSON tensors or the binary tensor data extension (the JSON
/// header's length in <c>Inference-Header-Content-Length</c>, each binary input's bytes after it in input order,
/// outputs as bytes on request), model metadata and readiness. Rows take the same checks as every predict route.
/// </summary>
public sealed partial class InferenceHandlers
{
    private const string V2Infer = "v2-infer";

    /// <summary>POST /v2/models/{name}/infer.</summary>
    public Task<IResult> InferV2Async(HttpContext http, string name)
    {
        if (models.Find(name) is not { } model)
        {
            return Task.FromResult(UnknownModel(V2Infer, name));
        }

        InferRequest? request = null;
        return ServeAsync(http, V2Infer, model, async expected =>
        {
            var (parsed, rows, error) = await ReadInferAsync(http, expected);
            request = parsed;
            return (rows, error);
        }, served => AnswerV2(http, served, request!));
    }

    /// <summary>GET /v2/models/{name}.</summary>
    public IResult ModelMetadataV2(string name)
    {
        if (models.Find(name)?.Current is not { } m)
        {
            return UnknownModel("v2-model", name);
        }

        return TypedResults.Ok(new ModelMetadataResponse
        {
            Name = m.ModelId,
            Versions = [m.Version.ToString(CultureInfo.InvariantCulture)],
            Platform = m.Architecture == "torchscript" ? "pytorch_torchscript" : "pipeline_" + m.Architecture,
            Inputs = [new TensorMetadata { Name = OpenInference.InputName, Datatype = "FP32", Shape = [-1, .. m.InputShape.Select(d => (long)d)] }],
            Outputs =
            [
                new TensorMetadata { Name = OpenInference.ProbabilitiesName, Datatype = "FP32", Shape = [-1, m.Classes.Count] },
                new TensorMetadata { Name = OpenInference.ClassName, Datatype = "INT32", Shape = [-1] },
            ],
        });
    }

    /// <summary>GET /v2/models/{name}/ready: 200 when a version is loaded (and warmed up), else 503 (404 when unknown).</summary>
    public IResult ModelReadyV2(string name) => models.Find(name) switch
    {
        null => UnknownModel("v2-model", name),
        { Current: null } m => NoModel("v2-model", m),
        _ => TypedResults.Ok(),
    };

    private async Task<(InferRequest? Request, RowBatch? Rows, IResult? Error)> ReadInferAsync(HttpContext http, LoadedModel m)
    {
        var jsonLimit = ((long)settings.MaxBatchRows * m.InputLength * MaxBytesPerValue) + 65_536;
        var (body, length, error) = await ReadBodyAsync(http, V2Infer, jsonLimit, $"at most {settings.MaxBatchRows} rows");
        if (error is not null)
        {
            return (null, null, error);
        }

        var header = length;
        if (http.Request.Headers.TryGetValue(OpenInference.HeaderLength, out var declared))
        {
            if (!int.TryParse(declared.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out header) || header > length)
            {
                return (null, null, Invalid($"{OpenInference.HeaderLength} is '{declared}', but the body has {length} bytes: " +
                    "it must be the JSON header's length, at most the body's."));
            }
        }

        InferRequest? request;
        try
        {
            request = JsonSerializer.Deserialize<InferRequest>(body.AsSpan(0, header), Json);
        }
        catch (JsonException ex)
        {
            return (null, null, Reject(V2Infer, StatusCodes.Status400BadRequest, "Malformed JSON",
                $"The inference request header is not valid JSON for the Open Inference Protocol{(ex.Path is null ? "" : $" at {ex.Path}")}: {FirstSentence(ex.Message)}"));
        }

        if (request?.Inputs is not [var input])
        {
            return (null, null, Invalid($"\"inputs\" must hold exactly one tensor, named \"{OpenInference.InputName}\" (GET /v2/models/{m.ModelId} lists it)."));
        }

        if (Outputs(request, out var problem) is null)
        {
            return (null, null, Invalid(problem!));
        }

        var (rows, shapeProblem) = CheckInput(input, m);
        if (shapeProblem is not null)
        {
            return (null, null, Invalid(shapeProblem));
        }

        var uint8 = input.Datatype == "UINT8";
        var count = (long)rows * m.InputLength;
        float[] values;
        if (input.Parameters?.TryGetValue(OpenInference.BinaryDataSize, out var size) == true)
        {
            var expected = count * (uint8 ? 1 : sizeof(float));
            if (!size.TryGetInt64(out var bytes) || bytes != expected)
            {
                return (null, null, Invalid($"binary_data_size of input \"{input.Name}\" is {size}; shape [{string.Join(", ", input.Shape)}] of {input.Datatype} takes {expected} bytes."));
            }

            if (header + bytes != length)
            {
                return (null, null, Invalid($"The body has {length - header} bytes after the {header}-byte JSON header; binary_data_size says {bytes}."));
            }

            values = Decode(body.AsSpan(header, (int)bytes), uint8, m.UnitScale);
        }
        else
        {
            if (header != length)
            {
                return (null, null, Invalid($"{length - header} bytes follow the JSON header, but no input declares binary_data_size."));
            }

            if (JsonValues(input, count, uint8, m.UnitScale, out values) is { } dataProblem)
            {
                return (null, null, Invalid(dataProblem));
            }
        }

        return (request, new RowBatch(values, rows, static (i, j) => $"row {i}, value {j} of input \"{OpenInference.InputName}\""), null);
    }

    private static (int Rows, string? Problem) CheckInput(InferInputTensor input, LoadedModel m)
    {
        var expected = $"[N, {string.Join(", ", m.InputShape)}]{(m.InputShape.Count > 1 ? $" or [N, {m.InputLength}]" : "")}";
        if (input.Name != OpenInference.InputName)
        {
            return (0, $"Input \"{input.Name}\" is not an input of {m.ModelId}; its one input is \"{OpenInference.InputName}\".");
        }

        if (input.Datatype is not ("FP32" or "UINT8"))
        {
            return (0, $"Datatype \"{input.Datatype}\" of input \"{input.Name}\" is not supported: use FP32 or UINT8.");
        }

        var s = input.Shape;
        var perRow = s.Length < 2 ? -1 : s.Skip(1).Aggregate(1L, (a, d) => d <= 0 ? -1 : a * d);
        var sameShape = s.Length == m.InputShape.Count + 1 && s.Skip(1).SequenceEqual(m.InputShape.Select(d => (long)d));
        if (s.Length < 2 || s[0] < 1 || s[0] > int.MaxValue || perRow != m.InputLength || !(sameShape || s.Length == 2))
        {
            return (0, $"Shape [{string.Join(", ", s)}] of input \"{input.Name}\" does not fit {m.ModelId}: send {expected} with N ≥ 1 rows.");
        }

        return ((int)s[0], null);
    }

    private static string? JsonValues(InferInputTensor input, long count, bool uint8, bool unitScale, out float[] values)
    {
        values = [];
        if (input.Data is not { ValueKind: JsonValueKind.Array } data)
        {
            return $"Input \"{input.Name}\" has no \"data\" array and no binary_data_size.";
        }

        var flat = new List<float>((int)Math.Min(count, 1 << 20));
        if (Flatten(data, flat, count, uint8) is { } problem)
        {
            return $"\"data\" of input \"{input.Name}\": {problem}";
        }

        if (flat.Count != count)
        {
            return $"\"data\" of input \"{input.Name}\" has {flat.Count} values; shape [{string.Join(", ", input.Shape)}] takes {count}.";
        }

        values = CollectionsMarshal.AsSpan(flat).ToArray();
        if (uint8 && unitScale)
        {
            for (var i = 0; i < values.Length; i++)
            {
                values[i] /= 255f;
            }
        }

        return null;
    }

    private static string? Flatten(JsonElement element, List<float> into, long limit, bool uint8)
    {
        foreach (var e in element.EnumerateArray())
        {
            if (e.ValueKind == JsonValueKind.Array)
            {
                if (Flatten(e, into, limit, uint8) is { } problem)
                {
                    return problem;
                }

                continue;
            }

            if (into.Count >= limit)
            {
                return $"more values than the shape's {limit}.";
            }

            if (e.ValueKind != JsonValueKind.Number || !e.TryGetSingle(out var v) || (uint8 && (!e.TryGetByte(out _))))
            {
                return $"value {into.Count} is {e.GetRawText()}, not {(uint8 ? "an integer from 0 to 255" : "a number")}.";
            }

            into.Add(v);
        }

        return null;
    }

    /// <summary>The outputs asked for (all, as JSON, when none are named), with whether each goes as binary data.</summary>
    private static List<(string Name, bool Binary)>? Outputs(InferRequest request, out string? problem)
    {
        problem = null;
        var allBinary = request.Parameters?.TryGetValue(OpenInference.BinaryDataOutput, out var b) == true && b.ValueKind == JsonValueKind.True;
        if (request.Outputs is not { Length: > 0 } asked)
        {
            return [(OpenInference.ProbabilitiesName, allBinary), (OpenInference.ClassName, allBinary)];
        }

        var list = new List<(string, bool)>();
        foreach (var o in asked)
        {
            if (o.Name is not (OpenInference.ProbabilitiesName or OpenInference.ClassName))
            {
                problem = $"Output \"{o.Name}\" does not exist; the outputs are \"{OpenInference.ProbabilitiesName}\" and \"{OpenInference.ClassName}\".";
                return null;
            }

            var binary = o.Parameters?.TryGetValue(OpenInference.BinaryData, out var flag) == true ? flag.ValueKind == JsonValueKind.True : allBinary;
            list.Add((o.Name, binary));
        }

        return list;
    }

    private static IResult AnswerV2(HttpContext http, ServedBatch served, InferRequest request)
    {
        var outputs = new List<InferOutputTensor>();
        var binary = new List<byte[]>();
        foreach (var (name, asBinary) in Outputs(request, out _)!)
        {
            var probabilities = name == OpenInference.ProbabilitiesName;
            var values = probabilities ? served.Probabilities : served.Predicted.Select(p => (float)p).ToArray();
            long[] shape = probabilities ? [served.Rows, served.ClassNames.Count] : [served.Rows];
            var datatype = probabilities ? "FP32" : "INT32";
            byte[]? bytes = null;
            if (asBinary)
            {
                bytes = probabilities
                    ? MemoryMarshal.AsBytes(served.Probabilities.AsSpan()).ToArray()
                    : MemoryMarshal.AsBytes(served.Predicted.AsSpan()).ToArray();
                binary.Add(bytes);
            }

            outputs.Add(new InferOutputTensor
            {
                Name = name, Shape = shape, Datatype = datatype,
                Parameters = bytes is null ? null : new Dictionary<string, long> { [OpenInference.BinaryDataSize] = bytes.Length },
                Data = bytes is null ? values : null,
            });
        }

        var response = new InferResponse
        {
            ModelName = served.ModelId, ModelVersion = served.Version.ToString(CultureInfo.InvariantCulture), Id = request.Id,
            Parameters = new Dictionary<string, string> { [OpenInference.BatchIdParameter] = served.BatchId.ToString() },
            Outputs = [.. outputs],
        };
        if (binary.Count == 0)
        {
            return TypedResults.Ok(response);
        }

        var json = JsonSerializer.SerializeToUtf8Bytes(response, Json);
        http.Response.Headers[OpenInference.HeaderLength] = json.Length.ToString(CultureInfo.InvariantCulture);
        return TypedResults.Bytes([.. json, .. binary.SelectMany(b => b)], OctetStream);
    }

    private IResult Invalid(string detail) => Reject(V2Infer, StatusCodes.Status400BadRequest, "Invalid inference request", detail);
}
