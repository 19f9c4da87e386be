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
public sealed class InferenceHandlers(
    ServedModels models,
    DatasetArtifacts datasets,
    IBus bus,
    IOptions<InferenceOptions> options,
    ILogger<InferenceHandlers> logger)
{
    /// <summary>Artifact kind of stored observation batches.</summary>
    public const string ObservationsKind = "observations";

    // Longest plausible JSON text of one feature value ("0.123456789012345678, ").
    private const int MaxBytesPerValue = 24;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        NumberHandling = JsonNumberHandling.Strict,
        AllowTrailingCommas = false,
        ReadCommentHandling = JsonCommentHandling.Disallow,
    };

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
        Pipeline.ML.Models.Prediction[] predictions;
        int version;
        IReadOnlyList<string> classes;
        using (var lease = model.TryAcquire())
        {
            if (lease is null)
            {
                return NoModel("predict", model.ModelId);
            }

            // The lease pins this version: a swap meanwhile neither changes nor disposes it.
            var served = lease.Model;
            if (!ReferenceEquals(served, expected) && ValidatePredict(request!, served) is { } changed)
            {
                return Reject("predict", StatusCodes.Status400BadRequest, "Invalid prediction request", changed);
            }

            version = served.Version;
            classes = served.Classes;
            predictions = served.Predict(rows!, settings.ForwardBatchSize);
        }

        InferenceMetrics.Predictions.WithLabels(model.ModelId, version.ToString(CultureInfo.InvariantCulture)).Inc(rows.Length);
        var batchId = Guid.NewGuid();
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

        if (settings.PublishObservations)
        {
            await RecordObservationsAsync(model.ModelId, batchId, version, rows!, items, ct);
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
            return NoModel("feedback", model.ModelId);
        }

        var problem = ValidateFeedback(request!, classCount.Value);
        if (problem is not null)
        {
            return Reject("feedback", StatusCodes.Status400BadRequest, "Invalid feedback", problem);
        }

        var batchId = request!.BatchId!.Value;
        var labels = request.Labels!;
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
            return NoModel("model", model.ModelId);
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

    /// <summary>Checks rows against the serving model's input (any model when none serves: the lease then answers 503).</summary>
    internal string? ValidatePredict(PredictRequest request, LoadedModel? served)
    {
        var rows = request.Instances;
        var width = served?.InputLength;
        var unit = served?.UnitScale ?? false;
        var shape = served is null ? "" : $" (input shape [{string.Join(", ", served.InputShape)}])";
        if (rows is null)
        {
            return $"The body must be a JSON object with \"instances\": an array of rows of {width?.ToString(CultureInfo.InvariantCulture) ?? "N"} numbers{(unit ? " in [0, 1]" : "")}.";
        }

        if (rows.Length == 0)
        {
            return "\"instances\" is empty; send at least one row.";
        }

        if (rows.Length > settings.MaxBatchRows)
        {
            return $"\"instances\" has {rows.Length} rows; at most {settings.MaxBatchRows} are accepted per request.";
        }

        for (var i = 0; i < rows.Length; i++)
        {
            var row = rows[i];
            if (row is null)
            {
                return $"instances[{i}] is null; every row must be an array of {width?.ToString(CultureInfo.InvariantCulture) ?? "N"} numbers.";
            }

            if (width is { } w && row.Length != w)
            {
                return $"instances[{i}] has {row.Length} values; every row must have {w}{shape}.";
            }

            for (var j = 0; j < row.Length; j++)
            {
                var v = row[j];
                if (!float.IsFinite(v) || (unit && (v < 0f || v > 1f)))
                {
                    return $"instances[{i}][{j}] is {v.ToString(CultureInfo.InvariantCulture)}; values must be finite numbers{(unit ? " in [0, 1]" : "")}.";
                }
            }
        }

        return null;
    }

    internal string? ValidateFeedback(FeedbackRequest request, int classCount)
    {
        if (request.BatchId is not { } batchId || batchId == Guid.Empty)
        {
            return "\"batchId\" is required: the non-empty GUID that POST /predict returned.";
        }

        var labels = request.Labels;
        if (labels is null || labels.Length == 0)
        {
            return "\"labels\" is required: one class index per predicted row, in row order.";
        }

        if (labels.Length > settings.MaxBatchRows)
        {
            return $"\"labels\" has {labels.Length} entries; a batch has at most {settings.MaxBatchRows} rows.";
        }

        for (var i = 0; i < labels.Length; i++)
        {
            if (labels[i] < 0 || labels[i] >= classCount)
            {
                return $"labels[{i}] is {labels[i]}; labels are class indices from 0 to {classCount - 1}.";
            }
        }

        return null;
    }

    private async Task RecordObservationsAsync(string modelId, Guid batchId, int version, float[]?[] rows, PredictionItem[] items, CancellationToken ct)
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
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            // The caller still gets its predictions: drift monitoring must not take serving down.
            InferenceMetrics.ObservationFailures.WithLabels(modelId).Inc();
            logger.LogError(ex, "Could not record observation batch {BatchId} ({Rows} rows) of {ModelId} v{Version}",
                batchId, rows.Length, modelId, version);
        }
    }

    private async Task<(T? Value, IResult? Error)> ReadAsync<T>(HttpContext http, string endpoint, CancellationToken ct)
        where T : class
    {
        try
        {
            var value = await JsonSerializer.DeserializeAsync<T>(http.Request.Body, Json, ct);
            return value is null
                ? (null, Reject(endpoint, StatusCodes.Status400BadRequest, "Malformed JSON", "The body must be a JSON object, not null."))
                : (value, null);
        }
        catch (JsonException ex)
        {
            var where = ex.Path is null ? "" : $" at {ex.Path}";
            var line = ex.LineNumber is null ? "" : $" (line {ex.LineNumber + 1}, byte {ex.BytePositionInLine + 1})";
            return (null, Reject(endpoint, StatusCodes.Status400BadRequest, "Malformed JSON",
                $"The body is not valid JSON for this endpoint{where}{line}: {FirstSentence(ex.Message)}"));
        }
        catch (BadHttpRequestException ex)
        {
            return (null, Reject(endpoint, ex.StatusCode, "Unreadable request", ex.Message));
        }
    }

    private static string FirstSentence(string message)
    {
        var end = message.IndexOf(". ", StringComparison.Ordinal);
        return end < 0 ? message : message[..(end + 1)];
    }

    private static void AllowBodyOf(HttpContext http, long bytes)
    {
        // Large enough for the biggest valid request, and no larger: the body is buffered while parsed.
        var limit = http.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (limit is { IsReadOnly: false })
        {
            limit.MaxRequestBodySize = bytes;
        }
    }

    private IResult NoModel(string endpoint, string modelId) =>
        Reject(endpoint, StatusCodes.Status503ServiceUnavailable, "No model loaded",
            $"No production version of model '{modelId}' is loaded yet. Register a version and deploy it " +
            "(ModelDeployed); this replica loads it as soon as the event arrives or the registry shows it.");

    private IResult Reject(string endpoint, int status, string title, string detail)
    {
        InferenceMetrics.RejectedRequests.WithLabels(endpoint, status.ToString(CultureInfo.InvariantCulture)).Inc();
        logger.LogDebug("Rejected {Endpoint} request with {Status}: {Detail}", endpoint, status, detail);
        return TypedResults.Problem(detail: detail, statusCode: status, title: title);
    }
}
