namespace Pipeline.Drift.Monitoring;

/// <summary>
/// One production row: model input features, the model's predicted class and confidence,
/// an optional true label and an optional embedding (e.g. the image backbone's features).
/// </summary>
public sealed record Observation(float[] Features, int PredictedClass, float Confidence, int? Label = null, float[]? Embedding = null);
