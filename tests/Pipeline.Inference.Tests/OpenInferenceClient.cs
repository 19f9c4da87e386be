using System.Buffers.Binary;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Pipeline.Inference.Tests;

/// <summary>
/// A second client, written from the Open Inference Protocol v2 REST spec and Triton's binary tensor data extension
/// (not from the service's types): the JSON header, then each binary input's bytes in input order; the answer split
/// at its Inference-Header-Content-Length. Values are little-endian as the extension says.
/// </summary>
internal sealed class OpenInferenceClient(HttpClient http)
{
    public sealed record Answer(int Status, JsonObject Header, byte[] Binary, HttpResponseMessage Response)
    {
        /// <summary>The named output's values, from its "data" or from its binary_data_size bytes (in output order).</summary>
        public float[] Output(string name)
        {
            var offset = 0;
            foreach (var o in Header["outputs"]!.AsArray())
            {
                var size = o!["parameters"]?["binary_data_size"]?.GetValue<int>();
                if ((string)o["name"]! == name)
                {
                    if (size is null)
                    {
                        return o["data"]!.AsArray().Select(v => v!.GetValue<float>()).ToArray();
                    }

                    var bytes = Binary.AsMemory(offset, size.Value);
                    var int32 = (string)o["datatype"]! == "INT32";
                    return Enumerable.Range(0, size.Value / 4).Select(i => int32
                        ? BinaryPrimitives.ReadInt32LittleEndian(bytes.Span[(i * 4)..])
                        : BinaryPrimitives.ReadSingleLittleEndian(bytes.Span[(i * 4)..])).ToArray();
                }

                offset += size ?? 0;
            }

            throw new InvalidOperationException($"no output {name}");
        }
    }

    /// <summary>Sends <paramref name="header"/> as JSON, followed by <paramref name="binary"/> when given (the extension).</summary>
    public async Task<Answer> InferAsync(string model, JsonObject header, byte[]? binary = null, int? declaredHeaderLength = null)
    {
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        var body = binary is null ? json : [.. json, .. binary];
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue(binary is null ? "application/json" : "application/octet-stream");
        if (binary is not null || declaredHeaderLength is not null)
        {
            content.Headers.Add("Inference-Header-Content-Length", (declaredHeaderLength ?? json.Length).ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        var response = await http.PostAsync($"/v2/models/{model}/infer", content);
        var bytes = await response.Content.ReadAsByteArrayAsync();
        var length = response.Headers.TryGetValues("Inference-Header-Content-Length", out var values)
            ? int.Parse(values.Single(), System.Globalization.CultureInfo.InvariantCulture)
            : bytes.Length;
        var parsed = JsonNode.Parse(bytes.AsSpan(0, length))!.AsObject();
        return new Answer((int)response.StatusCode, parsed, bytes[length..], response);
    }

    /// <summary>Rows as little-endian float32 bytes, row-major.</summary>
    public static byte[] Fp32(float[][] rows)
    {
        var bytes = new byte[rows.Sum(r => r.Length) * 4];
        var at = 0;
        foreach (var v in rows.SelectMany(r => r))
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(at), v);
            at += 4;
        }

        return bytes;
    }

    public static JsonObject Parse(string json) => JsonNode.Parse(json)!.AsObject();

    public static string Json(object value) => JsonSerializer.Serialize(value);
}
