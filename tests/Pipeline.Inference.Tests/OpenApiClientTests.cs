using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;

namespace Pipeline.Inference.Tests;

/// <summary>
/// The OpenAPI document is one a generator can use: an API-key security scheme, plain number types, required fields
/// required. A TypeScript client generated from it by openapi-typescript-codegen (from npm) calls predict and feedback
/// on a real host.
/// </summary>
public sealed class OpenApiClientTests
{
    private const string Generator = "openapi-typescript-codegen@0.29.0";
    private const string TypeScript = "typescript@5.6.3";

    [Fact]
    public async Task The_document_declares_the_api_key_plain_numbers_and_required_fields()
    {
        await using var host = await InferenceHost.StartAsync(_ => Task.CompletedTask);
        using var doc = JsonDocument.Parse(await host.Http.GetStringAsync("/openapi/v1.json"));
        var root = doc.RootElement;
        var scheme = root.GetProperty("components").GetProperty("securitySchemes").GetProperty("ApiKey");
        var schemas = root.GetProperty("components").GetProperty("schemas");
        var predict = schemas.GetProperty("PredictRequest");
        var feedback = schemas.GetProperty("FeedbackRequest");

        Assert.Equal("apiKey", scheme.GetProperty("type").GetString());
        Assert.Equal("header", scheme.GetProperty("in").GetString());
        Assert.Equal("X-Api-Key", scheme.GetProperty("name").GetString());
        Assert.True(root.GetProperty("paths").GetProperty("/predict").GetProperty("post").TryGetProperty("security", out _));
        Assert.False(root.GetProperty("paths").GetProperty("/v2/health/live").GetProperty("get").TryGetProperty("security", out _));
        Assert.Equal(["instances"], predict.GetProperty("required").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(["batchId", "labels"], feedback.GetProperty("required").EnumerateArray().Select(e => e.GetString()).Order());
        var row = predict.GetProperty("properties").GetProperty("instances").GetProperty("items");
        Assert.Equal("array", row.GetProperty("type").GetString());
        Assert.Equal("number", row.GetProperty("items").GetProperty("type").GetString());
        Assert.Equal("integer", feedback.GetProperty("properties").GetProperty("labels").GetProperty("items").GetProperty("type").GetString());
        Assert.DoesNotContain("\"pattern\"", root.GetRawText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_client_generated_from_the_document_calls_predict_and_feedback()
    {
        await using var host = await InferenceHost.StartAsync(async s =>
        {
            await InferenceHost.RegisterAsync(s, seed: 1);
            await InferenceHost.SetProductionAsync(s, 1);
        });
        var work = Directory.CreateTempSubdirectory("pipeline-openapi-client-").FullName;
        var tools = Path.Combine(Path.GetTempPath(), "pipeline-openapi-tools");
        await RunAsync("npm", $"install --prefix {tools} --no-audit --no-fund --silent {Generator} {TypeScript}", work);
        await File.WriteAllTextAsync(Path.Combine(work, "openapi.json"), await host.Http.GetStringAsync("/openapi/v1.json"));
        await RunAsync("node", $"{tools}/node_modules/openapi-typescript-codegen/bin/index.js --input openapi.json --output gen --client fetch", work);
        var rows = Data.Rows(2, seed: 41);
        await File.WriteAllTextAsync(Path.Combine(work, "main.ts"), $$"""
            import { OpenAPI, InferenceService } from "./gen";
            OpenAPI.BASE = "{{host.Address.ToString().TrimEnd('/')}}";
            OpenAPI.HEADERS = { "X-Api-Key": "{{InferenceHost.ApiKey}}" };
            async function main() {
              const predicted = await InferenceService.predict({ instances: {{JsonSerializer.Serialize(rows)}} });
              const labels: number[] = predicted.predictions.map(p => p.class);
              const feedback = await InferenceService.feedback({ batchId: predicted.batchId, labels });
              console.log(JSON.stringify({ classes: labels, count: feedback.count, batchId: feedback.batchId }));
            }
            main().catch(e => { console.error(String(e), e.body ? JSON.stringify(e.body) : ""); throw e; });
            """);
        await RunAsync("node", $"{tools}/node_modules/typescript/bin/tsc --strict --target es2022 --module commonjs --lib es2022,dom --skipLibCheck main.ts", work);

        var output = await RunAsync("node", "main.js", work);

        using var result = JsonDocument.Parse(output);
        var expected = await host.ExpectedAsync(1, rows);
        Assert.Equal(expected.Select(p => p.Class), result.RootElement.GetProperty("classes").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(2, result.RootElement.GetProperty("count").GetInt32());
        var batch = Guid.Parse(result.RootElement.GetProperty("batchId").GetString()!);
        await host.Recorder.WaitForAsync<Pipeline.Contracts.LabelsObserved>(l => l.BatchId == batch);
        Directory.Delete(work, recursive: true);
    }

    private static async Task<string> RunAsync(string file, string arguments, string directory)
    {
        var start = new ProcessStartInfo(file, arguments)
        {
            WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {file}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await process.WaitForExitAsync(cts.Token);
        Assert.True(process.ExitCode == 0, $"{file} {arguments} exited {process.ExitCode}: {await stderr}{await stdout}");
        return await stdout;
    }
}
