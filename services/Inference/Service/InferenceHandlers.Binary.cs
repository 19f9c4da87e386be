using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.AspNetCore.Http;

namespace Pipeline.Inference;

/// <summary>
/// Raw binary rows on the predict routes (<c>Content-Type: application/octet-stream</c>): the body is the rows back to
/// back, little-endian float32 (or uint8, <c>?datatype=UINT8</c>, divided by 255 for unit-scale models). The bytes go
/// into the row array with one block copy; there is no per-value parsing.
/// </summary>
public sealed partial class InferenceHandlers
{
    /// <summary>The media type of raw binary rows.</summary>
    public const string OctetStream = "application/octet-stream";

    private static bool IsBinary(HttpContext http) =>
        http.Request.ContentType is { } type && type.StartsWith(OctetStream, StringComparison.OrdinalIgnoreCase);

    private async Task<(RowBatch? Rows, IResult? Error)> ReadBinaryRowsAsync(HttpContext http, LoadedModel expected)
    {
        const string endpoint = "predict";
        var datatype = http.Request.Query["datatype"].ToString();
        var uint8 = datatype.Equals("UINT8", StringComparison.OrdinalIgnoreCase);
        if (datatype.Length > 0 && !uint8 && !datatype.Equals("FP32", StringComparison.OrdinalIgnoreCase))
        {
            return (null, Reject(endpoint, StatusCodes.Status400BadRequest, "Invalid prediction request",
                $"datatype '{datatype}' is not supported for binary rows: use FP32 (little-endian float32, the default) or UINT8."));
        }

        var element = uint8 ? 1 : sizeof(float);
        var rowBytes = (long)expected.InputLength * element;
        var limit = settings.MaxBatchRows * rowBytes;
        var (body, length, error) = await ReadBodyAsync(http, endpoint, limit,
            $"at most {settings.MaxBatchRows} rows of {rowBytes} bytes");
        if (error is not null)
        {
            return (null, error);
        }

        var shape = $"input shape [{string.Join(", ", expected.InputShape)}]";
        if (length == 0 || length % rowBytes != 0)
        {
            return (null, Reject(endpoint, StatusCodes.Status400BadRequest, "Invalid prediction request",
                $"The body has {length} bytes, not a whole number of rows: one row is {expected.InputLength} " +
                $"{(uint8 ? "UINT8" : "FP32")} values, {rowBytes} bytes ({shape})."));
        }

        var values = Decode(body.AsSpan(0, length), uint8, expected.UnitScale);
        return (new RowBatch(values, (int)(length / rowBytes), static (i, j) => $"row {i}, value {j}"), null);
    }

    /// <summary>Little-endian float32 bytes (one block copy) or uint8 bytes (scaled to [0, 1] for unit-scale models).</summary>
    internal static float[] Decode(ReadOnlySpan<byte> bytes, bool uint8, bool unitScale)
    {
        if (uint8)
        {
            var scaled = new float[bytes.Length];
            var factor = unitScale ? 1f / 255f : 1f;
            for (var i = 0; i < bytes.Length; i++)
            {
                scaled[i] = bytes[i] * factor;
            }

            return scaled;
        }

        var values = new float[bytes.Length / sizeof(float)];
        bytes[..(values.Length * sizeof(float))].CopyTo(MemoryMarshal.AsBytes(values.AsSpan()));
        if (!BitConverter.IsLittleEndian)
        {
            var words = MemoryMarshal.Cast<float, int>(values.AsSpan());
            BinaryPrimitives.ReverseEndianness(words, words);
        }

        return values;
    }

    /// <summary>The whole body, at most <paramref name="limit"/> bytes (413 beyond, saying <paramref name="what"/> fits).</summary>
    private async Task<(byte[] Body, int Length, IResult? Error)> ReadBodyAsync(HttpContext http, string endpoint, long limit, string what)
    {
        limit = Math.Min(limit, Array.MaxLength);
        AllowBodyOf(http, limit);
        var declared = http.Request.ContentLength;
        if (declared > limit)
        {
            return ([], 0, TooLarge(endpoint, declared.Value, limit, what));
        }

        var ct = http.RequestAborted;
        try
        {
            if (declared is { } known)
            {
                var exact = new byte[known];
                await http.Request.Body.ReadExactlyAsync(exact, ct);
                return (exact, exact.Length, null);
            }

            // Chunked: grow up to the limit.
            var buffer = new byte[Math.Min(limit, 1 << 20)];
            var length = 0;
            while (true)
            {
                if (length == buffer.Length)
                {
                    if (buffer.Length >= limit)
                    {
                        var probe = new byte[1];
                        if (await http.Request.Body.ReadAsync(probe, ct) > 0)
                        {
                            return ([], 0, TooLarge(endpoint, limit + 1, limit, what));
                        }

                        break;
                    }

                    Array.Resize(ref buffer, (int)Math.Min(limit, (long)buffer.Length * 2));
                }

                var read = await http.Request.Body.ReadAsync(buffer.AsMemory(length), ct);
                if (read == 0)
                {
                    break;
                }

                length += read;
            }

            return (buffer, length, null);
        }
        catch (EndOfStreamException)
        {
            return ([], 0, Reject(endpoint, StatusCodes.Status400BadRequest, "Unreadable request",
                $"The body ended before its Content-Length of {declared} bytes."));
        }
        catch (BadHttpRequestException ex)
        {
            return ([], 0, Reject(endpoint, ex.StatusCode, "Unreadable request", ex.Message));
        }
    }

    private IResult TooLarge(string endpoint, long bytes, long limit, string what) =>
        Reject(endpoint, StatusCodes.Status413PayloadTooLarge, "Request body too large",
            $"The body has {bytes.ToString(CultureInfo.InvariantCulture)} bytes; this route takes at most {limit} ({what}).");
}
