using Microsoft.AspNetCore.Http;

namespace Pipeline.Inference;

/// <summary>Endpoint metadata of an inference route: its metric label, and whether it runs the model (concurrency limit).</summary>
public sealed record InferenceRoute(string Label, bool RunsModel = false)
{
    /// <summary>The route's metric label ("predict", "feedback", "model", "models"), or "other".</summary>
    public static string LabelOf(HttpContext http) => http.GetEndpoint()?.Metadata.GetMetadata<InferenceRoute>()?.Label ?? "other";
}
