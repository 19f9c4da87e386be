using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace Pipeline.Cli.Benchmarks;

/// <summary>What one POST /models/{model}/predict did: its batch id when accepted (200), and how long it took.</summary>
public sealed record SentBatch(int Model, int Rows, Guid? BatchId, int Status, DateTimeOffset SentAt, DateTimeOffset AnsweredAt, double Milliseconds, string? Error);

/// <summary>How the bench sends rows: JSON instances, raw float32 rows, or Open Inference Protocol v2 with binary tensors.</summary>
public enum LoadProtocol
{
    Json,
    Binary,
    V2,
}

/// <summary>
/// Open-loop production traffic through the inference HTTP API: each planned batch leaves when it is due, whether or
/// not earlier ones were answered (at most <see cref="MaxInFlight"/> at once, below the API's own concurrency limit
/// plus queue, so the bench never causes a 429 by itself), and none leaves after the send deadline. Request bodies
/// are real Fashion-MNIST test images, encoded once before the clock starts so that encoding here does not compete
/// with the services: JSON, raw little-endian float32 rows (/models/{model}/predict, application/octet-stream), or a
/// v2 JSON header with the rows as binary tensor data and the outputs asked for as binary (/v2/models/{model}/infer).
/// </summary>
public sealed class LoadTraffic(HttpClient http, IReadOnlyList<string> modelIds, float[][] images, LoadProtocol protocol = LoadProtocol.Json)
{
    public const int MaxInFlight = 32;

    private const string HeaderLength = "Inference-Header-Content-Length";

    private readonly Dictionary<int, byte[][]> bodies = [];
    private readonly Dictionary<int, int> v2Headers = [];

    /// <summary>Serialises the request bodies the plan needs (a pool per batch size, cycling over the images).</summary>
    public void Prepare(IEnumerable<int> batchSizes)
    {
        foreach (var size in batchSizes.Distinct())
        {
            var pool = Math.Max(1, Math.Min(images.Length, 10_000) / size);
            var list = new byte[pool][];
            for (var i = 0; i < pool; i++)
            {
                var rows = new float[size][];
                for (var r = 0; r < size; r++)
                {
                    rows[r] = images[((i * size) + r) % images.Length];
                }

                list[i] = Encode(rows);
            }

            bodies[size] = list;
        }
    }

    private byte[] Encode(float[][] rows)
    {
        if (protocol == LoadProtocol.Json)
        {
            return JsonSerializer.SerializeToUtf8Bytes(new { instances = rows });
        }

        var raw = MemoryMarshal.AsBytes(rows.SelectMany(r => r).ToArray().AsSpan()).ToArray();
        if (protocol == LoadProtocol.Binary)
        {
            return raw;
        }

        var header = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new
        {
            inputs = new[] { new { name = "input", shape = new[] { rows.Length, rows[0].Length }, datatype = "FP32", parameters = new { binary_data_size = raw.Length } } },
            parameters = new { binary_data_output = true },
        }));
        v2Headers[rows.Length] = header.Length;
        return [.. header, .. raw];
    }

    /// <summary>
    /// Sends the plan; a batch not yet sent when <paramref name="deadline"/> has passed (the API fell behind and the
    /// in-flight limit held it back) is not sent at all, so the sending time is bounded.
    /// </summary>
    public async Task<IReadOnlyList<SentBatch>> RunAsync(IReadOnlyList<PlannedBatch> plan, IProgress<int>? progress, CancellationToken ct, TimeSpan? deadline = null)
    {
        Prepare(plan.Select(p => p.Rows));
        using var gate = new SemaphoreSlim(MaxInFlight, MaxInFlight);
        var tasks = new List<Task<SentBatch>>(plan.Count);
        var clock = Stopwatch.StartNew();
        var rowsSent = 0;
        for (var i = 0; i < plan.Count; i++)
        {
            var p = plan[i];
            var wait = p.Due - clock.Elapsed;
            if (wait > TimeSpan.FromMilliseconds(1))
            {
                await Task.Delay(wait, ct);
            }

            if (deadline is { } d)
            {
                var left = d - clock.Elapsed;
                if (left <= TimeSpan.Zero || !await gate.WaitAsync(left, ct))
                {
                    break;
                }
            }
            else
            {
                await gate.WaitAsync(ct);
            }

            var pool = bodies[p.Rows];
            tasks.Add(SendAsync(p, pool[i % pool.Length], gate, ct));
            rowsSent += p.Rows;
            progress?.Report(rowsSent);
        }

        return await Task.WhenAll(tasks);
    }

    private async Task<SentBatch> SendAsync(PlannedBatch p, byte[] body, SemaphoreSlim gate, CancellationToken ct)
    {
        var sentAt = DateTimeOffset.UtcNow;
        var start = Stopwatch.GetTimestamp();
        try
        {
            using var content = new ByteArrayContent(body);
            content.Headers.ContentType = new MediaTypeHeaderValue(protocol == LoadProtocol.Json ? "application/json" : "application/octet-stream");
            var path = $"/models/{modelIds[p.Model]}/predict";
            if (protocol == LoadProtocol.V2)
            {
                content.Headers.Add(HeaderLength, v2Headers[p.Rows].ToString(CultureInfo.InvariantCulture));
                path = $"/v2/models/{modelIds[p.Model]}/infer";
            }

            using var response = await http.PostAsync(new Uri(path, UriKind.Relative), content, ct);
            var bytes = await response.Content.ReadAsByteArrayAsync(ct);
            var ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            if (!response.IsSuccessStatusCode)
            {
                var text = Encoding.UTF8.GetString(bytes);
                return new SentBatch(p.Model, p.Rows, null, (int)response.StatusCode, sentAt, DateTimeOffset.UtcNow, ms, text.Length > 300 ? text[..300] : text);
            }

            var batchId = BatchIdOf(response, bytes);
            return new SentBatch(p.Model, p.Rows, batchId, 200, sentAt, DateTimeOffset.UtcNow, ms, null);
        }
        catch (Exception ex) when (ex is HttpRequestException or JsonException or KeyNotFoundException or FormatException
            || (ex is TaskCanceledException && !ct.IsCancellationRequested))
        {
            return new SentBatch(p.Model, p.Rows, null, 0, sentAt, DateTimeOffset.UtcNow, Stopwatch.GetElapsedTime(start).TotalMilliseconds, ex.Message);
        }
        finally
        {
            gate.Release();
        }
    }

    private Guid BatchIdOf(HttpResponseMessage response, byte[] body)
    {
        if (protocol != LoadProtocol.V2)
        {
            return JsonDocument.Parse(body).RootElement.GetProperty("batchId").GetGuid();
        }

        var json = response.Headers.TryGetValues(HeaderLength, out var values) ? int.Parse(values.Single(), CultureInfo.InvariantCulture) : body.Length;
        return Guid.Parse(JsonDocument.Parse(body.AsMemory(0, json)).RootElement.GetProperty("parameters").GetProperty("batch_id").GetString()!);
    }
}
