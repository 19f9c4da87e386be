using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Pipeline.Contracts;

namespace Pipeline.Inference.Tests;

/// <summary>Raw binary rows (application/octet-stream) on /predict: same answer as JSON, same checks, 4xx with the reason.</summary>
public sealed class BinaryRowsTests(LoadedHostFixture fixture) : IClassFixture<LoadedHostFixture>
{
    private Task<HttpResponseMessage> PostBinaryAsync(byte[] body, string path = "/predict", HttpClient? http = null)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        return (http ?? fixture.Host.Http).PostAsync(path, content);
    }

    [Fact]
    public async Task Float32_rows_predict_what_the_same_rows_as_json_predict()
    {
        var rows = Data.Rows(3, seed: 31);

        var binary = await PostBinaryAsync(OpenInferenceClient.Fp32(rows));
        var json = await fixture.Host.PostJsonAsync("/predict", Data.PredictJson(rows));

        Assert.Equal(HttpStatusCode.OK, binary.StatusCode);
        var fromBinary = (await binary.Content.ReadFromJsonAsync<PredictResponse>())!;
        var fromJson = (await json.Content.ReadFromJsonAsync<PredictResponse>())!;
        Data.AssertMatches(fromJson.Predictions.Select(p => new Pipeline.ML.Models.Prediction(p.Class, p.Probabilities)).ToArray(), fromBinary.Predictions);
        var observed = await fixture.Host.Recorder.WaitForAsync<Pipeline.Contracts.ObservationsIngested>(o => o.BatchId == fromBinary.BatchId);
        Assert.Equal(3, observed.Count);
        Assert.Equal(784, observed.FeatureCount);
    }

    [Fact]
    public async Task Uint8_rows_are_divided_by_255_for_a_unit_scale_model()
    {
        var bytes = Enumerable.Range(0, 784).Select(i => (byte)(i % 256)).ToArray();
        var expected = await fixture.Host.ExpectedAsync(1, [bytes.Select(b => b / 255f).ToArray()]);

        var response = await PostBinaryAsync(bytes, "/predict?datatype=UINT8");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Data.AssertMatches(expected, (await response.Content.ReadFromJsonAsync<PredictResponse>())!.Predictions);
    }

    [Fact]
    public async Task Models_route_takes_binary_rows_too()
    {
        var response = await PostBinaryAsync(OpenInferenceClient.Fp32(Data.Rows(1, seed: 2)), $"/models/{InferenceHost.ModelId}/predict");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    public static TheoryData<string, int, string, string> BadBodies() => new()
    {
        { "not a whole number of rows", (784 * 4) + 3, "", "not a whole number of rows" },
        { "half a row", 784 * 2, "", "one row is 784 FP32 values, 3136 bytes" },
        { "empty body", 0, "", "The body has 0 bytes" },
        { "unknown datatype", 784 * 4, "?datatype=FP16", "datatype 'FP16' is not supported" },
        { "uint8 not whole rows", 785, "?datatype=UINT8", "784 UINT8 values" },
    };

    [Theory]
    [MemberData(nameof(BadBodies))]
    public async Task Bad_binary_bodies_get_400_with_the_reason(string name, int bytes, string query, string expected)
    {
        // A refusal may close its connection (the body is not read): on a client of its own, so that no other test's
        // request goes out on the closing connection of the shared client's pool.
        using var own = fixture.Host.ClientWith(InferenceHost.ApiKey);
        var response = await PostBinaryAsync(new byte[bytes], "/predict" + query, own);

        await BadRequestTests.AssertProblemAsync(response, HttpStatusCode.BadRequest, expected, name);
    }

    [Fact]
    public async Task Non_finite_and_out_of_range_values_are_refused_naming_row_and_value()
    {
        var rows = Data.Rows(2, seed: 8);
        rows[1][9] = float.PositiveInfinity;
        var infinite = await PostBinaryAsync(OpenInferenceClient.Fp32(rows));
        rows[1][9] = 1.5f;
        var outOfRange = await PostBinaryAsync(OpenInferenceClient.Fp32(rows));

        await BadRequestTests.AssertProblemAsync(infinite, HttpStatusCode.BadRequest, "row 1, value 9 is Infinity", "infinite");
        await BadRequestTests.AssertProblemAsync(outOfRange, HttpStatusCode.BadRequest, "row 1, value 9 is 1.5; values must be finite numbers in [0, 1]", "range");
    }

    [Fact]
    public async Task A_body_over_the_size_limit_is_refused_with_413()
    {
        // MaxBatchRows is 4 in this fixture: 5 rows are over the limit. Own client: the refusal closes the connection.
        using var own = fixture.Host.ClientWith(InferenceHost.ApiKey);
        var response = await PostBinaryAsync(new byte[5 * 784 * 4], http: own);

        await BadRequestTests.AssertProblemAsync(response, HttpStatusCode.RequestEntityTooLarge, "at most 12544", "oversized");
    }

    [Fact]
    public async Task Binary_rows_need_the_api_key_like_json()
    {
        using var anonymous = fixture.Host.ClientWith(null);

        var response = await PostBinaryAsync(OpenInferenceClient.Fp32(Data.Rows(1, seed: 2)), http: anonymous);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }
}
