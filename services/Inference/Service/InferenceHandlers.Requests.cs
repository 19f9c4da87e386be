using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Pipeline.Contracts;

namespace Pipeline.Inference;

/// <summary>Reading and validating request bodies: every bad input is a 400 (or 413) problem, never a 500.</summary>
public sealed partial class InferenceHandlers
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        NumberHandling = JsonNumberHandling.Strict,
        AllowTrailingCommas = false,
        ReadCommentHandling = JsonCommentHandling.Disallow,
    };

    /// <summary>Checks the JSON rows' structure against the serving model's input; <see cref="ValidateRows"/> checks the values.</summary>
    internal string? ValidatePredict(PredictRequest request, LoadedModel served)
    {
        var rows = request.Instances;
        var width = served.InputLength;
        var unit = served.UnitScale;
        var shape = $" (input shape [{string.Join(", ", served.InputShape)}])";
        if (rows is null)
        {
            return $"The body must be a JSON object with \"instances\": an array of rows of {width.ToString(CultureInfo.InvariantCulture)} numbers{(unit ? " in [0, 1]" : "")}.";
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
                return $"instances[{i}] is null; every row must be an array of {width.ToString(CultureInfo.InvariantCulture)} numbers.";
            }

            if (row.Length != width)
            {
                return $"instances[{i}] has {row.Length} values; every row must have {width}{shape}.";
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
}
