using System.Net.Http.Json;
using System.Text.Json;
using Pipeline.Contracts;

namespace Pipeline.Standalone.Demo;

/// <summary>
/// The demos as a client of the inference API: labelled production traffic sent to /predict in batches, the true
/// labels fed back through /feedback, as a labelling team or user feedback would.
/// </summary>
internal sealed class DemoTraffic : IDisposable
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly HttpClient http;

    public DemoTraffic(Uri inferenceUrl, string? apiKey, int batchRows)
    {
        http = new HttpClient { BaseAddress = inferenceUrl, Timeout = TimeSpan.FromSeconds(60) };
        if (apiKey is { } key)
        {
            http.DefaultRequestHeaders.Add("X-Api-Key", key);
        }

        BatchRows = batchRows;
    }

    public int BatchRows { get; }

    /// <summary>Waits (at most 60 s) until the inference service serves <paramref name="version"/> or a later one.</summary>
    public async Task WaitForModelAsync(int version, Action<string> say, CancellationToken ct)
    {
        var until = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < until)
        {
            try
            {
                var model = await http.GetFromJsonAsync<JsonElement>("/model", ct);
                if (model.TryGetProperty("version", out var v) && v.GetInt32() >= version)
                {
                    say($"inference serves v{v.GetInt32()}");
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // not loaded yet (503)
            }

            await Task.Delay(250, ct);
        }

        throw new TimeoutException("the inference service did not load the base model within 60 s");
    }

    /// <summary>One batch from <paramref name="offset"/>: rows sent, rows predicted right, and the version that served them.</summary>
    public async Task<(int Rows, int Correct, int Version)> SendAsync(float[][] rows, long[] labels, int offset, CancellationToken ct)
    {
        var count = Math.Min(BatchRows, rows.Length - offset);
        var batch = rows.AsSpan(offset, count).ToArray();
        var response = await http.PostAsJsonAsync("/predict", new { instances = batch }, ct);
        // Drift evaluation is behind (Inference:MaxLagRows): wait as told, as a production client would.
        while (response.StatusCode == System.Net.HttpStatusCode.ServiceUnavailable && response.Headers.RetryAfter?.Delta is { } wait)
        {
            response.Dispose();
            await Task.Delay(wait, ct);
            response = await http.PostAsJsonAsync("/predict", new { instances = batch }, ct);
        }

        using var answered = response;
        response.EnsureSuccessStatusCode();
        var body = await response.Content.ReadFromJsonAsync<PredictResponse>(Json, ct)
            ?? throw new InvalidOperationException("empty /predict response");
        var truth = labels.AsSpan(offset, count).ToArray().Select(l => (int)l).ToArray();
        var correct = 0;
        for (var i = 0; i < count; i++)
        {
            correct += body.Predictions[i].Class == truth[i] ? 1 : 0;
        }

        // The true labels come back later, as they would from a labelling team or user feedback.
        using var feedback = await http.PostAsJsonAsync("/feedback", new { batchId = body.BatchId, labels = truth }, ct);
        feedback.EnsureSuccessStatusCode();
        return (count, correct, body.Version);
    }

    public void Dispose() => http.Dispose();
}
