using System.Diagnostics;
using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Pipeline.Inference;

/// <summary>
/// A request's rows, back to back (row-major, the model's input length each), exactly as they go into the tensor.
/// <paramref name="Locate"/> names a value for error messages in the request's own terms ("instances[2][5]", "row 2, value 5").
/// </summary>
public sealed record RowBatch(float[] Values, int Rows, Func<int, int, string> Locate);

/// <summary>
/// What one served request produced: probabilities rows × classes (row-major), the arg-max and its probability, and
/// the embeddings of the same pass (rows × <paramref name="EmbeddingWidth"/>) when drift monitoring gets them.
/// </summary>
public sealed record ServedBatch(
    string ModelId, int Version, Guid BatchId, IReadOnlyList<string> ClassNames, int Rows, float[] Probabilities,
    int[] Predicted, float[] Confidences, float[]? Embeddings = null, int EmbeddingWidth = 0);

/// <summary>Reads a request's rows for the model version serving now: the rows, or the 4xx that says why not.</summary>
public delegate Task<(RowBatch? Rows, IResult? Error)> RowReader(LoadedModel expected);

/// <summary>
/// The one path every predict route takes (JSON instances, raw binary rows, Open Inference Protocol v2): check the
/// rows against the serving version, lease it, record the batch against the client's quota, run one forward pass,
/// refuse non-finite outputs, publish the observations, then let the route write its answer.
/// </summary>
public sealed partial class InferenceHandlers
{
    internal async Task<IResult> ServeAsync(
        HttpContext http, string endpoint, ProductionModel model, RowReader read, Func<ServedBatch, IResult> respond)
    {
        var ct = http.RequestAborted;
        // Rows are checked against the version serving now; a swap before the lease is taken is re-checked below.
        var expected = model.Current;
        if (expected is null)
        {
            return NoModel(endpoint, model);
        }

        var at = Stopwatch.GetTimestamp();
        var (batch, error) = await read(expected);
        if (error is not null)
        {
            return error;
        }

        at = Stage("read", at);
        if (ValidateRows(batch!, expected) is { } problem)
        {
            return Reject(endpoint, StatusCodes.Status400BadRequest, "Invalid prediction request", problem);
        }

        at = Stage("validate", at);

        if (settings.PublishObservations && lag.Check(model.ModelId) is { } behind)
        {
            return Refuse(http, endpoint, behind);
        }

        var rows = batch!.Rows;
        var watch = Stopwatch.StartNew();
        var batchId = Guid.NewGuid();
        var recorded = false;
        ForwardOutputs outputs;
        LoadedModel served;
        using (var lease = model.TryAcquire())
        {
            if (lease is null)
            {
                return NoModel(endpoint, model);
            }

            // The lease pins this version: a swap meanwhile neither changes nor disposes it.
            served = lease.Model;
            if (!ReferenceEquals(served, expected) && ValidateRows(batch, served) is { } changed)
            {
                return Reject(endpoint, StatusCodes.Status400BadRequest, "Invalid prediction request", changed);
            }

            if (settings.PublishObservations)
            {
                var (refusal, ok) = await RecordBatchAsync(http, model.ModelId, batchId, rows, served.InputLength, ct);
                if (refusal is not null)
                {
                    return Refuse(http, endpoint, refusal);
                }

                recorded = ok;
                at = Stage("ledger", at);
            }

            outputs = await forward.ForwardAsync(served, batch.Values, rows, recorded && settings.PublishEmbeddings);
            Stage("forward", at);
        }

        var probabilities = outputs.Probabilities;

        var classes = served.Classes;
        if (NonFiniteRows(probabilities, rows, classes.Count) is { Count: > 0 } bad)
        {
            if (recorded)
            {
                await ledger.ForgetAsync(batchId);
            }

            return Reject(endpoint, StatusCodes.Status422UnprocessableEntity, "Non-finite model output",
                $"The model's output for {Rows(bad, batch.Locate)} is not finite (NaN or infinite), usually because an input " +
                "value lies far outside the range the model was trained on. Nothing of this request was served or recorded.");
        }

        var (predicted, confidences) = ArgMax(probabilities, rows, classes.Count);
        InferenceMetrics.Predictions.WithLabels(model.ModelId, served.Version.ToString(CultureInfo.InvariantCulture)).Inc(rows);
        logger.LogDebug("Predicted {Rows} rows with {ModelId} v{Version} in {Milliseconds:F1} ms (batch {BatchId})",
            rows, model.ModelId, served.Version, watch.Elapsed.TotalMilliseconds, batchId);

        var result = new ServedBatch(
            model.ModelId, served.Version, batchId, classes, rows, probabilities, predicted, confidences, outputs.Embeddings, outputs.EmbeddingWidth);
        if (recorded)
        {
            if (await RecordObservationsAsync(result, batch.Values, served.InputLength, ct))
            {
                lag.Accepted(model.ModelId, batchId, rows);
            }
            else
            {
                // Nothing downstream knows this batch: give its quota back and refuse feedback for it.
                await ledger.ForgetAsync(batchId);
            }
        }

        return respond(result);
    }

    /// <summary>Observes the time since <paramref name="since"/> as <paramref name="stage"/>; returns now.</summary>
    internal static long Stage(string stage, long since)
    {
        var now = Stopwatch.GetTimestamp();
        InferenceMetrics.RequestStage.WithLabels(stage).Observe(Stopwatch.GetElapsedTime(since, now).TotalSeconds);
        return now;
    }

    /// <summary>Every check a row gets on every route: count, width, finite values, the unit range, categorical codes.</summary>
    internal string? ValidateRows(RowBatch batch, LoadedModel model)
    {
        var w = model.InputLength;
        var shape = $"input shape [{string.Join(", ", model.InputShape)}]";
        if (batch.Rows < 1)
        {
            return $"The request has no rows; send at least one row of {w} values ({shape}).";
        }

        if (batch.Rows > settings.MaxBatchRows)
        {
            return $"The request has {batch.Rows} rows; at most {settings.MaxBatchRows} are accepted per request.";
        }

        if (batch.Values.Length != (long)batch.Rows * w)
        {
            return $"The request's {batch.Values.Length} values are not {batch.Rows} rows of {w} ({shape}); the serving version changed its input.";
        }

        var unit = model.UnitScale;
        var values = batch.Values;
        for (var i = 0; i < values.Length; i++)
        {
            var v = values[i];
            if (!float.IsFinite(v) || (unit && (v < 0f || v > 1f)))
            {
                return $"{batch.Locate(i / w, i % w)} is {v.ToString(CultureInfo.InvariantCulture)}; values must be finite numbers{(unit ? " in [0, 1]" : "")}.";
            }
        }

        foreach (var column in model.CategoricalColumns)
        {
            for (var r = 0; r < batch.Rows; r++)
            {
                var v = values[(r * w) + column.Index];
                if (v < 0f || v >= column.Cardinality || v != MathF.Floor(v))
                {
                    return $"{batch.Locate(r, column.Index)} is {v.ToString(CultureInfo.InvariantCulture)}; column '{column.Name}' is categorical " +
                           $"with {column.Cardinality} categories, so its value must be a whole number from 0 to {column.Cardinality - 1}.";
                }
            }
        }

        return null;
    }

    private static List<int> NonFiniteRows(float[] probabilities, int rows, int classes)
    {
        var bad = new List<int>();
        for (var r = 0; r < rows; r++)
        {
            for (var c = 0; c < classes; c++)
            {
                if (!float.IsFinite(probabilities[(r * classes) + c]))
                {
                    bad.Add(r);
                    break;
                }
            }
        }

        return bad;
    }

    private static string Rows(List<int> rows, Func<int, int, string> locate)
    {
        var named = string.Join(", ", rows.Take(10).Select(r => locate(r, 0) is var at && at.Contains('[', StringComparison.Ordinal)
            ? at[..at.LastIndexOf('[')]
            : r.ToString(CultureInfo.InvariantCulture)));
        var more = rows.Count > 10 ? $" and {rows.Count - 10} more" : "";
        return $"{(rows.Count == 1 ? "row" : "rows")} {named}{more}";
    }

    private static (int[] Predicted, float[] Confidences) ArgMax(float[] probabilities, int rows, int classes)
    {
        var predicted = new int[rows];
        var confidences = new float[rows];
        for (var r = 0; r < rows; r++)
        {
            var row = probabilities.AsSpan(r * classes, classes);
            var best = 0;
            for (var c = 1; c < classes; c++)
            {
                if (row[c] > row[best])
                {
                    best = c;
                }
            }

            predicted[r] = best;
            confidences[r] = row[best];
        }

        return (predicted, confidences);
    }
}
