using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Pipeline.Hosting;

namespace Pipeline.Inference;

/// <summary>
/// The Open Inference Protocol v2 routes. Health (live, ready) stays open like /health; the server and model routes
/// take the same API key, rate limits, quotas and row checks as /predict.
/// </summary>
internal static class OpenInferenceEndpoints
{
    public static void MapOpenInference(this WebApplication app, RouteGroupBuilder api, InferenceHandlers handlers)
    {
        app.MapGet("/v2/health/live", () => TypedResults.Ok()).WithName("V2Live").WithTags("v2");
        app.MapGet("/v2/health/ready", async (HealthCheckService health, CancellationToken ct) =>
            (await health.CheckHealthAsync(c => c.Tags.Contains(PipelineHost.ReadyTag), ct)).Status == HealthStatus.Healthy
                ? Results.Ok()
                : Results.StatusCode(StatusCodes.Status503ServiceUnavailable))
            .WithName("V2Ready").WithTags("v2");

        var v2 = api.MapGroup("/v2").WithTags("v2");
        v2.MapGet("", () => TypedResults.Ok(new ServerMetadataResponse
            {
                Name = "pipeline-inference",
                Version = typeof(OpenInferenceEndpoints).Assembly.GetName().Version?.ToString() ?? "0",
                Extensions = ["binary_tensor_data"],
            }))
            .WithName("V2ServerMetadata")
            .WithMetadata(new InferenceRoute("v2-server"));
        v2.MapGet("/models/{name}", (string name) => InferenceHandlers.TimedAsync("v2-model", () => Task.FromResult(handlers.ModelMetadataV2(name))))
            .WithName("V2ModelMetadata")
            .WithMetadata(new InferenceRoute("v2-model"))
            .Produces<ModelMetadataResponse>()
            .ProducesProblem(StatusCodes.Status404NotFound);
        v2.MapGet("/models/{name}/ready", (string name) => InferenceHandlers.TimedAsync("v2-model", () => Task.FromResult(handlers.ModelReadyV2(name))))
            .WithName("V2ModelReady")
            .WithMetadata(new InferenceRoute("v2-model"))
            .Produces(StatusCodes.Status200OK)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        v2.MapPost("/models/{name}/infer", (HttpContext http, string name) => InferenceHandlers.TimedAsync("v2-infer", () => handlers.InferV2Async(http, name)))
            .WithName("V2Infer")
            .WithMetadata(new InferenceRoute("v2-infer", RunsModel: true))
            .WithSummary("Open Inference Protocol v2 infer: JSON tensors, or the binary tensor data extension (Inference-Header-Content-Length)")
            .Accepts<InferRequest>("application/json", InferenceHandlers.OctetStream)
            .Produces<InferResponse>()
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
    }
}
