using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Pipeline.Inference;

public static class InferenceEndpoints
{
    /// <summary>
    /// POST /predict, POST /feedback and GET /model for the default model; GET /models, GET /models/{model},
    /// POST /models/{model}/predict and /feedback for every deployed model; the OpenAPI document at
    /// /openapi/v1.json. Needs <see cref="InferenceModule"/> in the host
    /// (the service host and the Standalone host both map these).
    /// </summary>
    public static IEndpointRouteBuilder MapInferenceEndpoints(this IEndpointRouteBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var handlers = app.ServiceProvider.GetRequiredService<InferenceHandlers>();
        app.MapPost("/predict", Handler("predict", handlers.PredictAsync))
            .WithName("Predict")
            .Accepts<PredictRequest>("application/json")
            .Produces<PredictResponse>()
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        app.MapPost("/feedback", Handler("feedback", handlers.FeedbackAsync))
            .WithName("Feedback")
            .Accepts<FeedbackRequest>("application/json")
            .Produces<FeedbackResponse>(StatusCodes.Status202Accepted)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        app.MapGet("/model", () => InferenceHandlers.TimedAsync("model", () => Task.FromResult(handlers.GetModel())))
            .WithName("CurrentModel")
            .Produces<ModelStatus>()
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        // Every deployed model by id; rows are checked against that model's registered input shape.
        app.MapGet("/models", () => InferenceHandlers.TimedAsync("models", () => Task.FromResult(handlers.ListModels())))
            .WithName("ListModels")
            .WithSummary("Models served here with their loaded version, input shape and classes")
            .Produces<List<ModelStatus>>();
        app.MapGet("/models/{model}", (string model) => InferenceHandlers.TimedAsync("model", () => Task.FromResult(handlers.GetModel(model))))
            .WithName("GetModel")
            .Produces<ModelStatus>()
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        app.MapPost("/models/{model}/predict", (HttpContext http, string model) => InferenceHandlers.TimedAsync("predict", () => handlers.PredictModelAsync(http, model)))
            .WithName("PredictModel")
            .WithSummary("Predict with a deployed model; records the rows as an observation batch for drift monitoring")
            .Accepts<PredictRequest>("application/json")
            .Produces<PredictResponse>()
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        app.MapPost("/models/{model}/feedback", (HttpContext http, string model) => InferenceHandlers.TimedAsync("feedback", () => handlers.FeedbackModelAsync(http, model)))
            .WithName("FeedbackModel")
            .WithSummary("True labels of an earlier prediction batch, in row order")
            .Accepts<FeedbackRequest>("application/json")
            .Produces<FeedbackResponse>(StatusCodes.Status202Accepted)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        app.MapOpenApi("/openapi/{documentName}.json");
        return app;
    }

    // A typed delegate (not a RequestDelegate) so the returned IResult is written to the response.
    private static Func<HttpContext, Task<IResult>> Handler(string endpoint, Func<HttpContext, Task<IResult>> handler) =>
        http => InferenceHandlers.TimedAsync(endpoint, () => handler(http));
}
