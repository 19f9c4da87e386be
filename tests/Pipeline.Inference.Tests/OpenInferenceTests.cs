using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Pipeline.Inference.Tests;

/// <summary>
/// The Open Inference Protocol v2 routes against the protocol's published request and response examples (KServe's
/// "inference request/response JSON" and Triton's "binary tensor data extension" examples), through a client written
/// from the spec (<see cref="OpenInferenceClient"/>), on the same host and model as <see cref="BadRequestTests"/>.
/// </summary>
public sealed class OpenInferenceTests(LoadedHostFixture fixture) : IClassFixture<LoadedHostFixture>
{
    private const string Model = InferenceHost.ModelId;

    private OpenInferenceClient Client => new(fixture.Host.Http);

    /// <summary>The spec's JSON example ("id": "42", one input, outputs asked by name) with this model's input.</summary>
    private static JsonObject JsonExample(float[][] rows) => OpenInferenceClient.Parse($$"""
        {
          "id" : "42",
          "inputs" : [
            { "name" : "input", "shape" : [ {{rows.Length}}, 784 ], "datatype" : "FP32", "data" : {{OpenInferenceClient.Json(rows)}} }
          ],
          "outputs" : [ { "name" : "probabilities" } ]
        }
        """);

    [Fact]
    public async Task The_published_json_example_gets_the_published_answer_shape_and_the_same_probabilities_as_predict()
    {
        var rows = Data.Rows(3, seed: 21);

        var answer = await Client.InferAsync(Model, JsonExample(rows));

        Assert.Equal(200, answer.Status);
        Assert.Equal("42", (string)answer.Header["id"]!);
        Assert.Equal(Model, (string)answer.Header["model_name"]!);
        Assert.Equal("1", (string)answer.Header["model_version"]!);
        var output = answer.Header["outputs"]!.AsArray().Single()!;
        Assert.Equal("probabilities", (string)output["name"]!);
        Assert.Equal("FP32", (string)output["datatype"]!);
        Assert.Equal([3L, 10L], output["shape"]!.AsArray().Select(v => v!.GetValue<long>()));
        var expected = await fixture.Host.ExpectedAsync(1, rows);
        Assert.All(expected.SelectMany(p => p.Probabilities).Zip(answer.Output("probabilities")), v => Assert.Equal(v.First, v.Second, 1e-5f));
        Assert.True(Guid.TryParse((string?)answer.Header["parameters"]?["batch_id"], out _));
    }

    [Fact]
    public async Task Nested_data_by_shape_is_accepted_as_the_spec_allows()
    {
        var rows = Data.Rows(2, seed: 22);
        var header = JsonExample(rows);
        header["inputs"]![0]!["shape"] = new JsonArray(2, 1, 28, 28);
        header["inputs"]![0]!["data"] = JsonNode.Parse(OpenInferenceClient.Json(rows.Select(r => r.Chunk(28).ToArray()).Select(r => new[] { r }).ToArray()));

        var answer = await Client.InferAsync(Model, header);

        Assert.Equal(200, answer.Status);
        var expected = await fixture.Host.ExpectedAsync(1, rows);
        Assert.All(expected.SelectMany(p => p.Probabilities).Zip(answer.Output("probabilities")), v => Assert.Equal(v.First, v.Second, 1e-5f));
    }

    [Fact]
    public async Task The_published_binary_example_takes_bytes_after_the_header_and_answers_binary_where_asked()
    {
        var rows = Data.Rows(4, seed: 23);
        var binary = OpenInferenceClient.Fp32(rows);
        // Triton's example: binary_data_size on the input, binary_data true on one output and JSON for the other.
        var header = OpenInferenceClient.Parse($$"""
            {
              "model_name" : "{{Model}}",
              "inputs" : [ { "name" : "input", "shape" : [ 4, 784 ], "datatype" : "FP32", "parameters" : { "binary_data_size" : {{binary.Length}} } } ],
              "outputs" : [
                { "name" : "probabilities", "parameters" : { "binary_data" : true } },
                { "name" : "predicted_class" }
              ]
            }
            """);

        var answer = await Client.InferAsync(Model, header, binary);

        Assert.Equal(200, answer.Status);
        Assert.Equal("application/octet-stream", answer.Response.Content.Headers.ContentType?.MediaType);
        var outputs = answer.Header["outputs"]!.AsArray();
        Assert.Equal(4 * 10 * 4, outputs[0]!["parameters"]!["binary_data_size"]!.GetValue<int>());
        Assert.Null(outputs[0]!["data"]);
        Assert.Equal(4 * 10 * 4, answer.Binary.Length);
        var expected = await fixture.Host.ExpectedAsync(1, rows);
        Assert.All(expected.SelectMany(p => p.Probabilities).Zip(answer.Output("probabilities")), v => Assert.Equal(v.First, v.Second, 1e-5f));
        Assert.Equal(expected.Select(p => (float)p.Class), answer.Output("predicted_class"));
    }

    [Fact]
    public async Task Uint8_binary_input_is_scaled_by_the_manifest_input_scale()
    {
        var bytes = Enumerable.Range(0, 2 * 784).Select(i => (byte)((i * 37) % 256)).ToArray();
        var rows = bytes.Chunk(784).Select(r => r.Select(b => b / 255f).ToArray()).ToArray();
        var header = OpenInferenceClient.Parse($$"""
            { "inputs" : [ { "name" : "input", "shape" : [ 2, 1, 28, 28 ], "datatype" : "UINT8", "parameters" : { "binary_data_size" : {{bytes.Length}} } } ],
              "parameters" : { "binary_data_output" : true } }
            """);

        var answer = await Client.InferAsync(Model, header, bytes);

        Assert.Equal(200, answer.Status);
        var expected = await fixture.Host.ExpectedAsync(1, rows);
        Assert.All(expected.SelectMany(p => p.Probabilities).Zip(answer.Output("probabilities")), v => Assert.Equal(v.First, v.Second, 1e-5f));
    }

    public static TheoryData<string, string, int?, string> BadRequests() => new()
    {
        // The spec's own example request, unchanged: its input name and datatype are not this model's.
        { "published example as is", """{"id":"42","inputs":[{"name":"input0","shape":[2,2],"datatype":"UINT32","data":[1,2,3,4]},{"name":"input1","shape":[3],"datatype":"BOOL","data":[true]}],"outputs":[{"name":"output0"}]}""", null, "exactly one tensor" },
        { "wrong datatype", """{"inputs":[{"name":"input","shape":[1,784],"datatype":"INT64","data":[1]}]}""", null, "Datatype \"INT64\"" },
        { "wrong name", """{"inputs":[{"name":"input0","shape":[1,784],"datatype":"FP32","data":[1]}]}""", null, "its one input is \"input\"" },
        { "wrong shape", """{"inputs":[{"name":"input","shape":[1,783],"datatype":"FP32","data":[1]}]}""", null, "Shape [1, 783]" },
        { "zero rows", """{"inputs":[{"name":"input","shape":[0,784],"datatype":"FP32","data":[]}]}""", null, "N ≥ 1" },
        { "too few values", """{"inputs":[{"name":"input","shape":[1,784],"datatype":"FP32","data":[0.5,0.5]}]}""", null, "has 2 values" },
        { "string value", """{"inputs":[{"name":"input","shape":[1,784],"datatype":"FP32","data":["a"]}]}""", null, "not a number" },
        { "unknown output", """{"inputs":[{"name":"input","shape":[1,784],"datatype":"FP32","data":[0.5]}],"outputs":[{"name":"logits"}]}""", null, "Output \"logits\" does not exist" },
        { "missing inputs", """{"id":"1"}""", null, "not valid JSON" },
        { "header length beyond body", """{"inputs":[]}""", 100_000, "at most the body's" },
        { "negative header length", """{"inputs":[]}""", -1, "Inference-Header-Content-Length" },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task Bad_v2_requests_get_400_with_the_reason_in_the_spec_error_field(string name, string json, int? headerLength, string expected)
    {
        var answer = await Client.InferAsync(Model, OpenInferenceClient.Parse(json), declaredHeaderLength: headerLength);

        Assert.True(answer.Status == 400, $"{name}: {answer.Status} {answer.Header}");
        Assert.Contains(expected, (string)answer.Header["error"]!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Binary_data_size_must_match_the_shape_and_the_body()
    {
        var binary = OpenInferenceClient.Fp32(Data.Rows(1, seed: 3));
        var header = OpenInferenceClient.Parse($$$"""{"inputs":[{"name":"input","shape":[1,784],"datatype":"FP32","parameters":{"binary_data_size":{{{binary.Length}}}}}]}""");

        var shortBody = await Client.InferAsync(Model, header, binary[..100]);
        header["inputs"]![0]!["parameters"]!["binary_data_size"] = 100;
        var wrongSize = await Client.InferAsync(Model, header, binary[..100]);

        Assert.Equal(400, shortBody.Status);
        Assert.Contains("binary_data_size says 3136", (string)shortBody.Header["error"]!, StringComparison.Ordinal);
        Assert.Equal(400, wrongSize.Status);
        Assert.Contains("takes 3136 bytes", (string)wrongSize.Header["error"]!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NaN_in_binary_data_is_refused_naming_the_row()
    {
        var rows = Data.Rows(2, seed: 4);
        rows[1][7] = float.NaN;
        var binary = OpenInferenceClient.Fp32(rows);
        var header = OpenInferenceClient.Parse($$$"""{"inputs":[{"name":"input","shape":[2,784],"datatype":"FP32","parameters":{"binary_data_size":{{{binary.Length}}}}}]}""");

        var answer = await Client.InferAsync(Model, header, binary);

        Assert.Equal(400, answer.Status);
        Assert.Contains("row 1, value 7", (string)answer.Header["error"]!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Metadata_health_and_readiness_follow_the_spec()
    {
        var metadata = await fixture.Host.Http.GetFromJsonAsync<JsonObject>($"/v2/models/{Model}");
        using var open = new HttpClient { BaseAddress = fixture.Host.Address };

        Assert.Equal(Model, (string)metadata!["name"]!);
        Assert.Equal(["1"], metadata["versions"]!.AsArray().Select(v => (string)v!));
        var input = metadata["inputs"]![0]!;
        Assert.Equal("input", (string)input["name"]!);
        Assert.Equal([-1L, 1, 28, 28], input["shape"]!.AsArray().Select(v => v!.GetValue<long>()));
        Assert.Equal(HttpStatusCode.OK, (await open.GetAsync("/v2/health/live")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await open.GetAsync("/v2/health/ready")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await fixture.Host.Http.GetAsync($"/v2/models/{Model}/ready")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await fixture.Host.Http.GetAsync("/v2/models/nope/ready")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await open.GetAsync($"/v2/models/{Model}")).StatusCode);
        Assert.Equal(401, (await new OpenInferenceClient(open).InferAsync(Model, JsonExample(Data.Rows(1, seed: 1)))).Status);
    }
}
