using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Pipeline.Inference;

public static class InferenceEndpoints
{
    /// <summary>
    /// POST /predict, POST /feedback and GET /model. Needs <see cref="InferenceModule"/> in the host
    /// (the service host and the Standalone host both map these).
    /// </summary>
    public static IEndpointRouteBuilder MapInferenceEndpoints(this IEndpointRouteBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var handlers = app.ServiceProvider.GetRequiredService<InferenceHandlers>();
        app.MapPost("/predict", Handler("predict", handlers.PredictAsync))
            .WithName("Predict")
            .Produces<PredictResponse>()
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        app.MapPost("/feedback", Handler("feedback", handlers.FeedbackAsync))
            .WithName("Feedback")
            .Produces<FeedbackResponse>(StatusCodes.Status202Accepted)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        app.MapGet("/model", () => InferenceHandlers.TimedAsync("model", () => Task.FromResult(handlers.GetModel())))
            .WithName("CurrentModel")
            .Produces<ModelStatus>()
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        return app;
    }

    // A typed delegate (not a RequestDelegate) so the returned IResult is written to the response.
    private static Func<HttpContext, Task<IResult>> Handler(string endpoint, Func<HttpContext, Task<IResult>> handler) =>
        http => InferenceHandlers.TimedAsync(endpoint, () => handler(http));
}
