using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Pipeline.Cli.Benchmarks;

/// <summary>What one POST /models/{model}/predict did: its batch id when accepted (200), and how long it took.</summary>
public sealed record SentBatch(int Model, int Rows, Guid? BatchId, int Status, DateTimeOffset SentAt, DateTimeOffset AnsweredAt, double Milliseconds, string? Error);

/// <summary>
/// Open-loop production traffic through the inference HTTP API: each planned batch leaves when it is due, whether or
/// not earlier ones were answered (at most <see cref="MaxInFlight"/> at once, below the API's own concurrency limit
/// plus queue, so the bench never causes a 429 by itself). Request bodies are real Fashion-MNIST test images,
/// serialised once before the clock starts so that JSON encoding here does not compete with the services.
/// </summary>
public sealed class LoadTraffic(HttpClient http, IReadOnlyList<string> modelIds, float[][] images)
{
    public const int MaxInFlight = 32;

    private readonly Dictionary<int, byte[][]> bodies = [];

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

                list[i] = JsonSerializer.SerializeToUtf8Bytes(new { instances = rows });
            }

            bodies[size] = list;
        }
    }

    public async Task<IReadOnlyList<SentBatch>> RunAsync(IReadOnlyList<PlannedBatch> plan, IProgress<int>? progress, CancellationToken ct)
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

            await gate.WaitAsync(ct);
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
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            using var response = await http.PostAsync(new Uri($"/models/{modelIds[p.Model]}/predict", UriKind.Relative), content, ct);
            var text = await response.Content.ReadAsStringAsync(ct);
            var ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            if (!response.IsSuccessStatusCode)
            {
                return new SentBatch(p.Model, p.Rows, null, (int)response.StatusCode, sentAt, DateTimeOffset.UtcNow, ms, text.Length > 300 ? text[..300] : text);
            }

            var batchId = JsonDocument.Parse(text).RootElement.GetProperty("batchId").GetGuid();
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
}
