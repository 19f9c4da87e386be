using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using MassTransit;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pipeline.Artifacts;
using Pipeline.Contracts;
using Pipeline.ML.Data;

namespace Pipeline.Inference;

/// <summary>
/// The HTTP side of the service: validates requests (every bad input is a 400 problem, never a 500),
/// predicts with a lease on the current model, and records each /predict request as one observation
/// batch (features in the artifact store, ObservationsIngested on the bus).
/// </summary>
public sealed partial class InferenceHandlers(
    ServedModels models,
    DatasetArtifacts datasets,
    ClientBatchLedger ledger,
    EvaluationLag lag,
    ForwardBatcher forward,
    IBus bus,
    IOptions<InferenceOptions> options,
    ILogger<InferenceHandlers> logger)
{
    /// <summary>Artifact kind of stored observation batches.</summary>
    public const string ObservationsKind = "observations";

    // Longest plausible JSON text of one feature value ("0.123456789012345678, ").
    private const int MaxBytesPerValue = 24;

    private readonly InferenceOptions settings = options.Value;

    /// <summary>POST /predict: the default model.</summary>
    public Task<IResult> PredictAsync(HttpContext http) => PredictAsync(http, models.Default);

    /// <summary>POST /models/{model}/predict.</summary>
    public Task<IResult> PredictModelAsync(HttpContext http, string modelId) =>
        models.Find(modelId) is { } m ? PredictAsync(http, m) : Task.FromResult(UnknownModel("predict", modelId));

    /// <summary>POST /feedback: the default model.</summary>
    public Task<IResult> FeedbackAsync(HttpContext http) => FeedbackAsync(http, models.Default);

    /// <summary>POST /models/{model}/feedback.</summary>
    public Task<IResult> FeedbackModelAsync(HttpContext http, string modelId) =>
        models.Find(modelId) is { } m ? FeedbackAsync(http, m) : Task.FromResult(UnknownModel("feedback", modelId));

    /// <summary>GET /models: every model served here and its loaded version.</summary>
    public IResult ListModels() => TypedResults.Ok(models.All
        .Select(m => m.Current)
        .Where(c => c is not null)
        .Select(c => Status(c!))
        .OrderBy(s => s.ModelId, StringComparer.Ordinal)
        .ToList());

    /// <summary>GET /models/{model}.</summary>
    public IResult GetModel(string modelId) =>
        models.Find(modelId) is { } m ? GetModel(m) : UnknownModel("model", modelId);

    private Task<IResult> PredictAsync(HttpContext http, ProductionModel model) =>
        ServeAsync(http, "predict", model, expected => IsBinary(http) ? ReadBinaryRowsAsync(http, expected) : ReadJsonRowsAsync(http, expected), Answer);

    /// <summary>The JSON body {"instances": [[…], …]}: structure checked here, values by <see cref="ValidateRows"/>.</summary>
    private async Task<(RowBatch? Rows, IResult? Error)> ReadJsonRowsAsync(HttpContext http, LoadedModel expected)
    {
        AllowBodyOf(http, ((long)settings.MaxBatchRows * expected.InputLength * MaxBytesPerValue) + 65_536);
        var (request, error) = await ReadAsync<PredictRequest>(http, "predict", http.RequestAborted);
        if (error is not null)
        {
            return (null, error);
        }

        if (ValidatePredict(request!, expected) is { } problem)
        {
            return (null, Reject("predict", StatusCodes.Status400BadRequest, "Invalid prediction request", problem));
        }

        var rows = request!.Instances!;
        var width = expected.InputLength;
        var flat = new float[(long)rows.Length * width];
        for (var i = 0; i < rows.Length; i++)
        {
            rows[i]!.CopyTo(flat, (long)i * width);
        }

        return (new RowBatch(flat, rows.Length, static (i, j) => $"instances[{i}][{j}]"), null);
    }

    private static IResult Answer(ServedBatch served)
    {
        var c = served.ClassNames.Count;
        var items = new PredictionItem[served.Rows];
        for (var i = 0; i < items.Length; i++)
        {
            var p = served.Predicted[i];
            items[i] = new PredictionItem
            {
                Class = p,
                Label = served.ClassNames[p],
                Confidence = served.Confidences[i],
                Probabilities = served.Probabilities.AsSpan(i * c, c).ToArray(),
            };
        }

        return TypedResults.Ok(new PredictResponse
        {
            ModelId = served.ModelId, Version = served.Version, BatchId = served.BatchId, Predictions = items,
        });
    }

    private async Task<IResult> FeedbackAsync(HttpContext http, ProductionModel model)
    {
        var ct = http.RequestAborted;
        AllowBodyOf(http, ((long)settings.MaxBatchRows * 12) + 65_536);
        var (request, error) = await ReadAsync<FeedbackRequest>(http, "feedback", ct);
        if (error is not null)
        {
            return error;
        }

        var classCount = model.Current?.Classes.Count;
        if (classCount is null)
        {
            return NoModel("feedback", model);
        }

        var problem = ValidateFeedback(request!, classCount.Value);
        if (problem is not null)
        {
            return Reject("feedback", StatusCodes.Status400BadRequest, "Invalid feedback", problem);
        }

        var batchId = request!.BatchId!.Value;
        var labels = request.Labels!;
        Refusal? refused;
        try
        {
            // Only a batch recorded here, by this client, with as many rows as labels: a client's mistake
            // is its 4xx, never a message that faults a consumer downstream.
            refused = await ledger.CheckFeedbackAsync(InferenceAccess.ClientId(http), model.ModelId, batchId, labels.Length, ct)
                ?? await ledger.ClaimFeedbackAsync(batchId, ct);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            logger.LogError(ex, "Could not look up batch {BatchId} of {ModelId}", batchId, model.ModelId);
            return Reject("feedback", StatusCodes.Status503ServiceUnavailable, "Feedback not recorded",
                "The batch could not be looked up in the database; retry later.");
        }

        if (refused is not null)
        {
            return Refuse(http, "feedback", refused);
        }

        try
        {
            await bus.Publish(new LabelsObserved { ModelId = model.ModelId, BatchId = batchId, Labels = labels }, ct);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            logger.LogError(ex, "Could not publish LabelsObserved for batch {BatchId} of {ModelId}", batchId, model.ModelId);
            await ledger.ReleaseFeedbackAsync(batchId);
            return Reject("feedback", StatusCodes.Status503ServiceUnavailable, "Feedback not recorded",
                "The labels could not be published to the message bus; retry later.");
        }

        logger.LogInformation("Labels for batch {BatchId} of {ModelId}: {Count} rows", batchId, model.ModelId, labels.Length);
        return TypedResults.Accepted((string?)null, new FeedbackResponse { ModelId = model.ModelId, BatchId = batchId, Count = labels.Length });
    }

    public IResult GetModel() => GetModel(models.Default);

    private IResult GetModel(ProductionModel model)
    {
        var current = model.Current;
        if (current is null)
        {
            return NoModel("model", model);
        }

        return TypedResults.Ok(Status(current));
    }

    private static ModelStatus Status(LoadedModel current) => new()
    {
        ModelId = current.ModelId, Version = current.Version, Architecture = current.Architecture,
        LoadedAt = current.LoadedAt, Sha256 = current.Sha256, Classes = current.Classes,
        InputShape = current.InputShape, InputScale = current.UnitScale ? "unit" : "raw", Features = current.FeatureNames,
    };

    private IResult UnknownModel(string endpoint, string modelId) =>
        Reject(endpoint, StatusCodes.Status404NotFound, "Unknown model",
            $"No model '{modelId}' is deployed here. Register it (./pipeline ctl models register {modelId} … --deploy) or see GET /models.");

    /// <summary>Runs a handler and records its latency and status code.</summary>
    internal static async Task<IResult> TimedAsync(string endpoint, Func<Task<IResult>> handler)
    {
        var start = Stopwatch.GetTimestamp();
        var code = StatusCodes.Status500InternalServerError;
        try
        {
            var result = await handler();
            code = (result as IStatusCodeHttpResult)?.StatusCode ?? StatusCodes.Status200OK;
            return result;
        }
        finally
        {
            InferenceMetrics.RequestDuration.WithLabels(endpoint, code.ToString(CultureInfo.InvariantCulture))
                .Observe(Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
    }

    private async Task<bool> RecordObservationsAsync(ServedBatch served, float[] values, int width, CancellationToken ct)
    {
        try
        {
            var at = Stopwatch.GetTimestamp();
            var blob = new FeatureBlob(served.Rows, width, values);
            var features = await datasets.SaveAsync(blob, ObservationsKind, $"{served.ModelId}/{served.BatchId}.pfb", ct);
            var embeddings = served.Embeddings is { } e
                ? await datasets.SaveAsync(new FeatureBlob(served.Rows, served.EmbeddingWidth, e), ObservationsKind, $"{served.ModelId}/{served.BatchId}.emb.pfb", ct)
                : null;
            at = Stage("store", at);
            await bus.Publish(new ObservationsIngested
            {
                ModelId = served.ModelId,
                ModelVersion = served.Version,
                BatchId = served.BatchId,
                Features = features,
                Count = served.Rows,
                FeatureCount = width,
                Predictions = served.Predicted,
                Confidences = served.Confidences.Select(c => Math.Clamp(c, 0f, 1f)).ToArray(),
                Embeddings = embeddings,
                EmbeddingWidth = embeddings is null ? null : served.EmbeddingWidth,
            }, ct);
            Stage("publish", at);
            return true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            // The caller still gets its predictions: drift monitoring must not take serving down.
            InferenceMetrics.ObservationFailures.WithLabels(served.ModelId).Inc();
            logger.LogError(ex, "Could not record observation batch {BatchId} ({Rows} rows) of {ModelId} v{Version}",
                served.BatchId, served.Rows, served.ModelId, served.Version);
            return false;
        }
    }

    private IResult NoModel(string endpoint, ProductionModel model) =>
        Reject(endpoint, StatusCodes.Status503ServiceUnavailable, "No model loaded",
            $"No production version of model '{model.ModelId}' is loaded yet: " +
            (model.Unavailable ?? "none has been deployed.") +
            " Register a version and deploy it (ModelDeployed); this replica loads it as soon as the event arrives or the registry shows it.");

    /// <summary>Records the batch for feedback ownership and the client's quota; a database failure serves the predictions unrecorded.</summary>
    private async Task<(Refusal? Refusal, bool Recorded)> RecordBatchAsync(HttpContext http, string modelId, Guid batchId, int rows, int width, CancellationToken ct)
    {
        try
        {
            var refusal = await ledger.RecordAsync(InferenceAccess.ClientId(http), modelId, batchId, rows, width, ct);
            return (refusal, refusal is null);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            // Drift monitoring must not take serving down: predict, but record nothing (feedback for it is refused).
            InferenceMetrics.ObservationFailures.WithLabels(modelId).Inc();
            logger.LogError(ex, "Could not record batch {BatchId} of {ModelId}; its predictions are served but not recorded", batchId, modelId);
            return (null, false);
        }
    }

    private IResult Refuse(HttpContext http, string endpoint, Refusal refusal)
    {
        if (refusal.RetryAfter is { } retry)
        {
            http.Response.Headers.RetryAfter = InferenceAccess.Seconds(retry);
        }

        if (refusal.Limit is { } limit)
        {
            InferenceMetrics.LimitRejections.WithLabels(endpoint, limit).Inc();
        }

        return Reject(endpoint, refusal.Status, refusal.Title, refusal.Detail);
    }

    private IResult Reject(string endpoint, int status, string title, string detail)
    {
        InferenceMetrics.RejectedRequests.WithLabels(endpoint, status.ToString(CultureInfo.InvariantCulture)).Inc();
        logger.LogDebug("Rejected {Endpoint} request with {Status}: {Detail}", endpoint, status, detail);
        // The Open Inference Protocol's error object is {"error": "..."}; v2 answers carry it beside the problem fields.
        return endpoint.StartsWith("v2", StringComparison.Ordinal)
            ? TypedResults.Problem(detail: detail, statusCode: status, title: title, extensions: new Dictionary<string, object?> { ["error"] = detail })
            : TypedResults.Problem(detail: detail, statusCode: status, title: title);
    }
}
