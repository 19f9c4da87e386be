using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using MassTransit;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pipeline.Adaptation;
using Pipeline.Contracts;
using Pipeline.Hosting.Artifacts;
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

    private async Task<IResult> PredictAsync(HttpContext http, ProductionModel model)
    {
        var ct = http.RequestAborted;
        // Rows are checked against the version serving now; a swap before the lease is taken is re-checked below.
        var expected = model.Current;
        AllowBodyOf(http, ((long)settings.MaxBatchRows * (expected?.InputLength ?? 1) * MaxBytesPerValue) + 65_536);
        var (request, error) = await ReadAsync<PredictRequest>(http, "predict", ct);
        if (error is not null)
        {
            return error;
        }

        var problem = ValidatePredict(request!, expected);
        if (problem is not null)
        {
            return Reject("predict", StatusCodes.Status400BadRequest, "Invalid prediction request", problem);
        }

        var rows = request!.Instances!;
        var watch = Stopwatch.StartNew();
        var batchId = Guid.NewGuid();
        var recorded = false;
        Pipeline.ML.Models.Prediction[] predictions;
        int version;
        IReadOnlyList<string> classes;
        using (var lease = model.TryAcquire())
        {
            if (lease is null)
            {
                return NoModel("predict", model);
            }

            // The lease pins this version: a swap meanwhile neither changes nor disposes it.
            var served = lease.Model;
            if (!ReferenceEquals(served, expected) && ValidatePredict(request!, served) is { } changed)
            {
                return Reject("predict", StatusCodes.Status400BadRequest, "Invalid prediction request", changed);
            }

            if (settings.PublishObservations)
            {
                var (refusal, ok) = await RecordBatchAsync(http, model.ModelId, batchId, rows.Length, served.InputLength, ct);
                if (refusal is not null)
                {
                    return Refuse(http, "predict", refusal);
                }

                recorded = ok;
            }

            version = served.Version;
            classes = served.Classes;
            predictions = served.Predict(rows!, settings.ForwardBatchSize);
        }

        InferenceMetrics.Predictions.WithLabels(model.ModelId, version.ToString(CultureInfo.InvariantCulture)).Inc(rows.Length);
        var items = new PredictionItem[predictions.Length];
        for (var i = 0; i < predictions.Length; i++)
        {
            var p = predictions[i];
            items[i] = new PredictionItem
            {
                Class = p.Class,
                Label = p.Class < classes.Count ? classes[p.Class] : p.Class.ToString(CultureInfo.InvariantCulture),
                Confidence = p.Probabilities[p.Class],
                Probabilities = p.Probabilities,
            };
        }

        logger.LogDebug("Predicted {Rows} rows with {ModelId} v{Version} in {Milliseconds:F1} ms (batch {BatchId})",
            rows.Length, model.ModelId, version, watch.Elapsed.TotalMilliseconds, batchId);

        if (recorded && !await RecordObservationsAsync(model.ModelId, batchId, version, rows!, items, ct))
        {
            // Nothing downstream knows this batch: give its quota back and refuse feedback for it.
            await ledger.ForgetAsync(batchId);
        }

        return TypedResults.Ok(new PredictResponse
        {
            ModelId = model.ModelId, Version = version, BatchId = batchId, Predictions = items,
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
            refused = await ledger.CheckFeedbackAsync(InferenceAccess.ClientId(http), model.ModelId, batchId, labels.Length, ct);
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

    private async Task<bool> RecordObservationsAsync(string modelId, Guid batchId, int version, float[]?[] rows, PredictionItem[] items, CancellationToken ct)
    {
        try
        {
            var width = rows[0]!.Length;
            var flat = new float[(long)rows.Length * width];
            for (var i = 0; i < rows.Length; i++)
            {
                rows[i]!.CopyTo(flat, (long)i * width);
            }

            var blob = new FeatureBlob(rows.Length, width, flat);
            var features = await datasets.SaveAsync(blob, ObservationsKind, $"{modelId}/{batchId}.pfb", ct);
            await bus.Publish(new ObservationsIngested
            {
                ModelId = modelId,
                ModelVersion = version,
                BatchId = batchId,
                Features = features,
                Count = rows.Length,
                FeatureCount = width,
                Predictions = items.Select(p => p.Class).ToArray(),
                Confidences = items.Select(p => Math.Clamp(p.Confidence, 0f, 1f)).ToArray(),
            }, ct);
            return true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            // The caller still gets its predictions: drift monitoring must not take serving down.
            InferenceMetrics.ObservationFailures.WithLabels(modelId).Inc();
            logger.LogError(ex, "Could not record observation batch {BatchId} ({Rows} rows) of {ModelId} v{Version}",
                batchId, rows.Length, modelId, version);
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
        return TypedResults.Problem(detail: detail, statusCode: status, title: title);
    }
}
