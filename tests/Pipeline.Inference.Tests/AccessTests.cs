using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Microsoft.Extensions.Options;
using Pipeline.Contracts;

namespace Pipeline.Inference.Tests;

/// <summary>
/// Who may call the inference API and how much, on a real Kestrel host: API keys (401), per-client rate
/// and per-replica concurrency limits (429 with Retry-After), batch ownership on /feedback (403, 404) and the
/// per-client storage quota (429, 413).
/// </summary>
public sealed class AccessTests
{
    private const string OtherKey = "other-key-fedcba9876543210";

    private static Func<IServiceProvider, Task> OneVersion => async s =>
    {
        await InferenceHost.RegisterAsync(s, seed: 1);
        await InferenceHost.SetProductionAsync(s, 1);
    };

    private static Dictionary<string, string?> TwoClients(params (string Key, string Value)[] more)
    {
        var settings = new Dictionary<string, string?>
        {
            [$"Inference:Auth:ApiKeys:{InferenceHost.Client}"] = InferenceHost.ApiKey,
            ["Inference:Auth:ApiKeys:other"] = OtherKey,
        };
        foreach (var (k, v) in more)
        {
            settings[k] = v;
        }

        return settings;
    }

    private static async Task<Guid> PredictAsync(HttpClient http, int rows, int seed)
    {
        var response = await InferenceHost.PostJsonAsync(http, "/predict", Data.PredictJson(Data.Rows(rows, seed)));
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<PredictResponse>())!.BatchId;
    }

    [Fact]
    public async Task No_key_or_a_wrong_key_is_401_a_good_key_or_bearer_token_is_200_and_health_metrics_openapi_stay_open()
    {
        await using var host = await InferenceHost.StartAsync(OneVersion);
        using var anonymous = host.ClientWith(null);
        using var wrong = host.ClientWith("not-a-key-of-anybody-0000");
        var json = Data.PredictJson(Data.Rows(2, seed: 1));

        var missing = await InferenceHost.PostJsonAsync(anonymous, "/predict", json);
        Assert.Contains("ApiKey", missing.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        await BadRequestTests.AssertProblemAsync(missing, HttpStatusCode.Unauthorized, "An API key is required", "no key");
        await BadRequestTests.AssertProblemAsync(await anonymous.GetAsync("/model"), HttpStatusCode.Unauthorized, "An API key is required", "no key, model");
        await BadRequestTests.AssertProblemAsync(
            await InferenceHost.PostJsonAsync(anonymous, "/feedback", $$"""{"batchId":"{{Guid.NewGuid()}}","labels":[1]}"""),
            HttpStatusCode.Unauthorized, "An API key is required", "no key, feedback");
        await BadRequestTests.AssertProblemAsync(
            await InferenceHost.PostJsonAsync(wrong, "/predict", json), HttpStatusCode.Unauthorized, "The API key is not valid", "wrong key");
        await BadRequestTests.AssertProblemAsync(
            await wrong.GetAsync("/models"), HttpStatusCode.Unauthorized, "The API key is not valid", "wrong key, models");

        Assert.Equal(HttpStatusCode.OK, (await host.PostJsonAsync("/predict", json)).StatusCode);
        using var bearer = host.ClientWith(null);
        bearer.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", InferenceHost.ApiKey);
        Assert.Equal(HttpStatusCode.OK, (await InferenceHost.PostJsonAsync(bearer, "/predict", json)).StatusCode);

        foreach (var open in new[] { "/health/live", "/metrics", "/openapi/v1.json" })
        {
            Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync(open)).StatusCode);
        }

        // Refused requests publish nothing: only the two accepted predictions were recorded.
        await Task.Delay(200);
        Assert.Equal(2, host.Recorder.All<ObservationsIngested>().Count);
        Assert.Contains("inference_rejected_requests_total{endpoint=\"predict\",code=\"401\"}", await anonymous.GetStringAsync("/metrics"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_keys_the_host_refuses_to_start_unless_auth_is_disabled()
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() =>
            InferenceHost.StartAsync(extra: new Dictionary<string, string?> { ["Inference:Auth:Enabled"] = "true" }));
        Assert.Contains("Inference:Auth:ApiKeys is empty", error.Message, StringComparison.Ordinal);

        var shortKey = await Assert.ThrowsAsync<OptionsValidationException>(() =>
            InferenceHost.StartAsync(extra: new Dictionary<string, string?> { ["Inference:Auth:ApiKeys:x"] = "short" }));
        Assert.Contains("at least 16 characters", shortKey.Message, StringComparison.Ordinal);

        // Disabled (demos, tests): every caller is the client "anonymous", and it owns its batches.
        await using var open = await InferenceHost.StartAsync(OneVersion, new Dictionary<string, string?> { ["Inference:Auth:Enabled"] = "false" });
        using var anonymous = open.ClientWith(null);
        var batch = await PredictAsync(anonymous, 2, seed: 3);
        var feedback = await InferenceHost.PostJsonAsync(anonymous, "/feedback", $$"""{"batchId":"{{batch}}","labels":[1,2]}""");
        Assert.Equal(HttpStatusCode.Accepted, feedback.StatusCode);
    }

    [Fact]
    public async Task A_client_over_its_rate_gets_429_with_retry_after_and_other_clients_are_not_limited()
    {
        await using var host = await InferenceHost.StartAsync(OneVersion, TwoClients(
            ("Inference:Limits:RequestsPerSecond", "1"), ("Inference:Limits:Burst", "2")));
        using var other = host.ClientWith(OtherKey);

        var answers = new List<HttpResponseMessage>();
        for (var i = 0; i < 4; i++)
        {
            answers.Add(await host.Http.GetAsync("/model"));
        }

        Assert.Equal(HttpStatusCode.OK, answers[0].StatusCode);
        var limited = answers.First(r => r.StatusCode == HttpStatusCode.TooManyRequests);
        Assert.True(limited.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1), $"Retry-After: {limited.Headers.RetryAfter}");
        await BadRequestTests.AssertProblemAsync(limited, HttpStatusCode.TooManyRequests, "Too many requests from client 'tests': at most 1 per second", "rate");
        Assert.Equal(HttpStatusCode.OK, (await other.GetAsync("/model")).StatusCode);
        Assert.Contains("inference_limit_rejections_total{endpoint=\"model\",limit=\"rate\"}", await other.GetStringAsync("/metrics"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_prediction_beyond_the_concurrency_limit_gets_429_while_the_slot_is_taken()
    {
        await using var host = await InferenceHost.StartAsync(OneVersion, new Dictionary<string, string?>
        {
            ["Inference:Limits:PredictConcurrency"] = "1", ["Inference:Limits:PredictQueue"] = "0",
        });

        // The first request takes the only slot and holds it while its body has not finished arriving.
        var body = new SlowContent(Data.PredictJson(Data.Rows(1, seed: 2)));
        var first = host.Http.PostAsync("/predict", body);
        await body.Started.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await Task.Delay(200);

        var second = await host.PostJsonAsync("/predict", Data.PredictJson(Data.Rows(1, seed: 3)));
        Assert.Equal(TimeSpan.FromSeconds(1), second.Headers.RetryAfter?.Delta);
        await BadRequestTests.AssertProblemAsync(second, HttpStatusCode.TooManyRequests, "running its limit of 1 predictions", "concurrency");
        Assert.Equal(HttpStatusCode.OK, (await host.Http.GetAsync("/model")).StatusCode); // only predictions take a slot

        body.Finish.SetResult();
        Assert.Equal(HttpStatusCode.OK, (await first).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await host.PostJsonAsync("/predict", Data.PredictJson(Data.Rows(1, seed: 4)))).StatusCode);
    }

    [Fact]
    public async Task Feedback_is_taken_only_from_the_client_that_made_the_batch()
    {
        await using var host = await InferenceHost.StartAsync(OneVersion, TwoClients());
        using var other = host.ClientWith(OtherKey);
        var batch = await PredictAsync(host.Http, 2, seed: 5);
        var labels = $$"""{"batchId":"{{batch}}","labels":[3,4]}""";

        await BadRequestTests.AssertProblemAsync(
            await InferenceHost.PostJsonAsync(other, "/feedback", labels), HttpStatusCode.Forbidden, "was made by another client", "other client");
        await BadRequestTests.AssertProblemAsync(
            await host.PostJsonAsync("/feedback", $$"""{"batchId":"{{batch}}","labels":[3]}"""), HttpStatusCode.BadRequest, "has 2 rows but 1 labels", "count");
        await Task.Delay(200);
        Assert.Empty(host.Recorder.All<LabelsObserved>());

        Assert.Equal(HttpStatusCode.Accepted, (await host.PostJsonAsync("/feedback", labels)).StatusCode);
        var published = await host.Recorder.WaitForAsync<LabelsObserved>(l => l.BatchId == batch);
        Assert.Equal([3, 4], published.Labels);
    }

    [Fact]
    public async Task Feedback_for_an_unknown_batch_is_404_counted_as_a_client_error_and_never_published()
    {
        await using var host = await InferenceHost.StartAsync(OneVersion);
        var unknown = Guid.NewGuid();

        await BadRequestTests.AssertProblemAsync(
            await host.PostJsonAsync("/feedback", $$"""{"batchId":"{{unknown}}","labels":[1]}"""), HttpStatusCode.NotFound,
            $"No prediction batch {unknown} of model 'fashion-mnist' was recorded", "unknown batch");
        Assert.Equal(HttpStatusCode.NotFound,
            (await host.PostJsonAsync("/models/fashion-mnist/feedback", $$"""{"batchId":"{{Guid.NewGuid()}}","labels":[1]}""")).StatusCode);
        var batch = await PredictAsync(host.Http, 1, seed: 6);

        await Task.Delay(300);
        Assert.Empty(host.Recorder.All<LabelsObserved>());
        Assert.Contains("inference_rejected_requests_total{endpoint=\"feedback\",code=\"404\"}", await host.Http.GetStringAsync("/metrics"), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Accepted, (await host.PostJsonAsync("/feedback", $$"""{"batchId":"{{batch}}","labels":[1]}""")).StatusCode);
    }

    [Fact]
    public async Task A_client_over_its_storage_quota_is_refused_with_the_reason_and_other_clients_still_predict()
    {
        await using var host = await InferenceHost.StartAsync(OneVersion, TwoClients(("Inference:Limits:MaxStoredRows", "5")));
        using var other = host.ClientWith(OtherKey);
        await PredictAsync(host.Http, 3, seed: 7);

        var full = await host.PostJsonAsync("/predict", Data.PredictJson(Data.Rows(3, seed: 8)));
        Assert.True(full.Headers.RetryAfter?.Delta > TimeSpan.FromHours(23), $"Retry-After: {full.Headers.RetryAfter}");
        await BadRequestTests.AssertProblemAsync(full, HttpStatusCode.TooManyRequests,
            "Client 'tests' has stored 3 rows (9408 bytes) of observation batches in the last 1.00:00:00; its quota is 5 rows", "quota");
        await BadRequestTests.AssertProblemAsync(
            await host.PostJsonAsync("/predict", Data.PredictJson(Data.Rows(6, seed: 9))), HttpStatusCode.RequestEntityTooLarge,
            "is larger than the storage quota of client 'tests'", "batch over quota");

        await PredictAsync(other, 3, seed: 10);
        await Task.Delay(200);
        Assert.Equal(2, host.Recorder.All<ObservationsIngested>().Count);
        Assert.Contains("inference_limit_rejections_total{endpoint=\"predict\",limit=\"quota\"}", await other.GetStringAsync("/metrics"), StringComparison.Ordinal);
    }

    /// <summary>A body that sends its first byte, then waits for <see cref="Finish"/> before the rest.</summary>
    private sealed class SlowContent(string json) : HttpContent
    {
        public TaskCompletionSource Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Finish { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            var bytes = System.Text.Encoding.UTF8.GetBytes(json);
            await stream.WriteAsync(bytes.AsMemory(0, 1));
            await stream.FlushAsync();
            Started.SetResult();
            await Finish.Task;
            await stream.WriteAsync(bytes.AsMemory(1));
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
