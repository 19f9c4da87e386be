using System.Net;
using System.Text.Json;

namespace Pipeline.Inference.Tests;

/// <summary>One host with a model (MaxBatchRows 4) shared by all bad-input cases.</summary>
public sealed class LoadedHostFixture : IAsyncLifetime
{
    public InferenceHost Host { get; private set; } = null!;

    public async Task InitializeAsync() =>
        Host = await InferenceHost.StartAsync(
            async s =>
            {
                await InferenceHost.RegisterAsync(s, seed: 1);
                await InferenceHost.SetProductionAsync(s, 1);
            },
            new Dictionary<string, string?> { ["Inference:MaxBatchRows"] = "4" });

    public async Task DisposeAsync() => await Host.DisposeAsync();
}

public sealed class BadRequestTests(LoadedHostFixture fixture) : IClassFixture<LoadedHostFixture>
{
    private static string Row(string? value = null, int width = 784, int at = 0)
    {
        var values = Enumerable.Repeat("0.5", width).ToArray();
        if (value is not null)
        {
            values[at] = value;
        }

        return "[" + string.Join(",", values) + "]";
    }

    public static TheoryData<string, string, string> PredictCases()
    {
        var good = Row();
        return new TheoryData<string, string, string>
        {
            { "missing instances", "{}", "\"instances\"" },
            { "null instances", """{"instances":null}""", "\"instances\"" },
            { "empty instances", """{"instances":[]}""", "empty" },
            { "instances not an array", """{"instances":{"a":1}}""", "not valid JSON" },
            { "row too short", $$"""{"instances":[{{Row(width: 783)}}]}""", "has 783 values" },
            { "row too long", $$"""{"instances":[{{good}},{{Row(width: 785)}}]}""", "instances[1] has 785 values" },
            { "null row", $$"""{"instances":[{{good}},null]}""", "instances[1] is null" },
            { "value out of float range", $$"""{"instances":[{{Row("1e39")}}]}""", "instances[0]" },
            { "NaN literal", $$"""{"instances":[{{Row("NaN")}}]}""", "not valid JSON" },
            { "Infinity string", $$"""{"instances":[{{Row("\"Infinity\"", at: 5)}}]}""", "instances[0][5]" },
            { "negative value", $$"""{"instances":[{{Row("-0.1", at: 3)}}]}""", "instances[0][3] is -0.1" },
            { "value above one", $$"""{"instances":[{{Row("1.5", at: 783)}}]}""", "instances[0][783] is 1.5" },
            { "string value", $$"""{"instances":[{{Row("\"0.5\"")}}]}""", "not valid JSON" },
            { "too many rows", $$"""{"instances":[{{good}},{{good}},{{good}},{{good}},{{good}}]}""", "at most 4" },
            { "truncated JSON", """{"instances":[[0.1,0.2""", "not valid JSON" },
            { "not JSON", "hello", "not valid JSON" },
            { "empty body", "", "not valid JSON" },
            { "JSON null", "null", "not null" },
            { "array root", $"[{good}]", "not valid JSON" },
            { "trailing comma", $$"""{"instances":[{{good}},]}""", "not valid JSON" },
        };
    }

    [Theory]
    [MemberData(nameof(PredictCases))]
    public async Task Predict_rejects_bad_input_with_400_problem_details(string name, string body, string expected)
    {
        var response = await fixture.Host.PostJsonAsync("/predict", body);

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, expected, name);
    }

    public static TheoryData<string, string, string> FeedbackCases()
    {
        var id = Guid.NewGuid();
        return new TheoryData<string, string, string>
        {
            { "missing batch id", """{"labels":[1]}""", "\"batchId\" is required" },
            { "empty batch id", $$"""{"batchId":"{{Guid.Empty}}","labels":[1]}""", "\"batchId\" is required" },
            { "bad batch id", """{"batchId":"nope","labels":[1]}""", "not valid JSON" },
            { "missing labels", $$"""{"batchId":"{{id}}"}""", "\"labels\" is required" },
            { "empty labels", $$"""{"batchId":"{{id}}","labels":[]}""", "\"labels\" is required" },
            { "negative label", $$"""{"batchId":"{{id}}","labels":[1,-1]}""", "labels[1] is -1" },
            { "label too large", $$"""{"batchId":"{{id}}","labels":[10]}""", "labels[0] is 10; labels are class indices from 0 to 9" },
            { "fractional label", $$"""{"batchId":"{{id}}","labels":[1.5]}""", "not valid JSON" },
            { "too many labels", $$"""{"batchId":"{{id}}","labels":[1,2,3,4,5]}""", "at most 4" },
            { "malformed", """{"batchId":""", "not valid JSON" },
        };
    }

    [Theory]
    [MemberData(nameof(FeedbackCases))]
    public async Task Feedback_rejects_bad_input_with_400_problem_details(string name, string body, string expected)
    {
        var response = await fixture.Host.PostJsonAsync("/feedback", body);

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, expected, name);
    }

    [Fact]
    public async Task An_oversized_body_is_refused_with_413_problem_details()
    {
        // MaxBatchRows 4 allows about 4 × 784 × 24 bytes + 64 KiB; 60 rows are well over that.
        var body = "{\"instances\":[" + string.Join(",", Enumerable.Repeat(Row(), 60)) + "]}";

        // Own client: the refusal closes its connection, which must not be the next test's pooled one.
        using var own = fixture.Host.ClientWith(InferenceHost.ApiKey);
        var response = await InferenceHost.PostJsonAsync(own, "/predict", body);

        await AssertProblemAsync(response, HttpStatusCode.RequestEntityTooLarge, "", "oversized");
    }

    [Fact]
    public async Task Nothing_is_published_for_rejected_requests()
    {
        var before = fixture.Host.Recorder.All<Pipeline.Contracts.ObservationsIngested>().Count;
        await fixture.Host.PostJsonAsync("/predict", """{"instances":[]}""");
        await Task.Delay(100);
        Assert.Equal(before, fixture.Host.Recorder.All<Pipeline.Contracts.ObservationsIngested>().Count);
    }

    internal static async Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string expected, string name)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"{name}: expected {(int)status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(text);
        Assert.Equal((int)status, problem.RootElement.GetProperty("status").GetInt32());
        var detail = problem.RootElement.GetProperty("detail").GetString()!;
        Assert.True(detail.Contains(expected, StringComparison.Ordinal), $"{name}: detail '{detail}' lacks '{expected}'");
    }
}
