using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Contracts;

namespace Pipeline.Inference;

public static class InferenceEndpoints
{
    /// <summary>
    /// POST /predict, POST /feedback and GET /model for the default model; GET /models, GET /models/{model},
    /// POST /models/{model}/predict and /feedback for every deployed model: each needs a client's API key and
    /// is rate limited per client (<see cref="InferenceAccess"/>). The OpenAPI document at /openapi/v1.json
    /// stays open, as do /health and /metrics. Needs <see cref="InferenceModule"/> in the host
    /// (the service host and the Standalone host both map these).
    /// </summary>
    public static WebApplication MapInferenceEndpoints(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var handlers = app.Services.GetRequiredService<InferenceHandlers>();
        app.UseInferenceAccess();
        var api = app.MapGroup("")
            .WithTags("inference")
            .RequireAuthorization(InferenceAccess.ClientPolicy)
            .RequireRateLimiting(InferenceAccess.PerClientRatePolicy)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status429TooManyRequests);

        api.MapPost("/predict", Handler("predict", handlers.PredictAsync))
            .WithName("Predict")
            .WithMetadata(new InferenceRoute("predict", RunsModel: true))
            .Accepts<PredictRequest>("application/json", InferenceHandlers.OctetStream)
            .Produces<PredictResponse>()
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        api.MapPost("/feedback", Handler("feedback", handlers.FeedbackAsync))
            .WithName("Feedback")
            .WithMetadata(new InferenceRoute("feedback"))
            .Accepts<FeedbackRequest>("application/json")
            .Produces<FeedbackResponse>(StatusCodes.Status202Accepted)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        api.MapGet("/model", () => InferenceHandlers.TimedAsync("model", () => Task.FromResult(handlers.GetModel())))
            .WithName("CurrentModel")
            .WithMetadata(new InferenceRoute("model"))
            .Produces<ModelStatus>()
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        // Every deployed model by id; rows are checked against that model's registered input shape.
        api.MapGet("/models", () => InferenceHandlers.TimedAsync("models", () => Task.FromResult(handlers.ListModels())))
            .WithName("ListModels")
            .WithMetadata(new InferenceRoute("models"))
            .WithSummary("Models served here with their loaded version, input shape and classes")
            .Produces<List<ModelStatus>>();
        api.MapGet("/models/{model}", (string model) => InferenceHandlers.TimedAsync("model", () => Task.FromResult(handlers.GetModel(model))))
            .WithName("GetModel")
            .WithMetadata(new InferenceRoute("model"))
            .Produces<ModelStatus>()
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        api.MapPost("/models/{model}/predict", (HttpContext http, string model) => InferenceHandlers.TimedAsync("predict", () => handlers.PredictModelAsync(http, model)))
            .WithName("PredictModel")
            .WithMetadata(new InferenceRoute("predict", RunsModel: true))
            .WithSummary("Predict with a deployed model; records the rows as an observation batch for drift monitoring")
            .Accepts<PredictRequest>("application/json", InferenceHandlers.OctetStream)
            .Produces<PredictResponse>()
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        api.MapPost("/models/{model}/feedback", (HttpContext http, string model) => InferenceHandlers.TimedAsync("feedback", () => handlers.FeedbackModelAsync(http, model)))
            .WithName("FeedbackModel")
            .WithMetadata(new InferenceRoute("feedback"))
            .WithSummary("True labels of an earlier prediction batch, in row order; only from the client that made the batch")
            .Accepts<FeedbackRequest>("application/json")
            .Produces<FeedbackResponse>(StatusCodes.Status202Accepted)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        app.MapOpenInference(api, handlers);
        app.MapOpenApi("/openapi/{documentName}.json");
        return app;
    }

    // A typed delegate (not a RequestDelegate) so the returned IResult is written to the response.
    private static Func<HttpContext, Task<IResult>> Handler(string endpoint, Func<HttpContext, Task<IResult>> handler) =>
        http => InferenceHandlers.TimedAsync(endpoint, () => handler(http));
}
