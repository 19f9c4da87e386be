using System.Globalization;
using Pipeline.Contracts;

namespace Pipeline.Cli.Benchmarks;

/// <summary>What the requests and the windows say, before the ceiling and the machine are added.</summary>
public sealed record LoadOutcome
{
    public required long RowsIn { get; init; }
    public required long RowsOut { get; init; }
    public required long RowsDuplicated { get; init; }
    public required int BatchesIncomplete { get; init; }
    public required int Requests { get; init; }
    public required int FailedRequests { get; init; }
    public required string? FirstFailure { get; init; }
    public required int Windows { get; init; }
    public required double? P50Ms { get; init; }
    public required double? P99Ms { get; init; }
    public required long MaxLagRows { get; init; }
    public required double? PredictP50Ms { get; init; }
    public required double? PredictP99Ms { get; init; }
    public required double? PredictMeanMs { get; init; }
    public required double? WindowFillP50Ms { get; init; }
    public required double? WindowFillP99Ms { get; init; }
    public required double? WindowCloseP50Ms { get; init; }
    public required double? WindowCloseP99Ms { get; init; }
    /// <summary>Rows out per second from the first request to the evaluation of the last window holding a row of the load.</summary>
    public required double RowsPerSecond { get; init; }
}

/// <summary>Joins the requests the bench made with the windows DriftDetection reported, batch by batch.</summary>
public static class LoadAnalysis
{
    public static LoadOutcome Analyse(IReadOnlyList<SentBatch> sent, IReadOnlyList<DriftWindowEvaluated> windows)
    {
        var accepted = sent.Where(s => s.BatchId is not null).ToDictionary(s => s.BatchId!.Value);
        var inWindows = new Dictionary<Guid, long>();
        var acceptedAt = new Dictionary<Guid, DateTimeOffset>();
        var latency = new List<(double, long)>();
        var fill = new List<(double, long)>();
        var close = new List<(double, long)>();
        var evaluated = new List<(DateTimeOffset, long)>();
        var ours = 0;
        DateTimeOffset? lastEvaluation = null;
        foreach (var w in windows)
        {
            var segments = w.Batches.Where(b => accepted.ContainsKey(b.BatchId) && b.Rows > 0).ToList();
            if (segments.Count == 0)
            {
                continue;
            }

            ours++;
            // The API's acceptance (ObservationsIngested's timestamp); the client's answer when the service left it out.
            var at = segments.Select(b => (b.Rows, b.BatchId, At: b.AcceptedAt ?? accepted[b.BatchId].AnsweredAt)).ToList();
            var windowLast = at.Max(a => a.At);
            foreach (var (rows, batchId, when) in at)
            {
                inWindows[batchId] = inWindows.GetValueOrDefault(batchId) + rows;
                acceptedAt.TryAdd(batchId, when);
                latency.Add(((w.Timestamp - when).TotalMilliseconds, rows));
                fill.Add(((windowLast - when).TotalMilliseconds, rows));
                close.Add(((w.Timestamp - windowLast).TotalMilliseconds, rows));
            }

            evaluated.Add((w.Timestamp, at.Sum(a => (long)a.Rows)));
            lastEvaluation = lastEvaluation is { } l && l > w.Timestamp ? l : w.Timestamp;
        }

        long rowsOut = 0, duplicated = 0;
        var incomplete = 0;
        foreach (var (id, batch) in accepted)
        {
            var seen = inWindows.GetValueOrDefault(id);
            rowsOut += Math.Min(seen, batch.Rows);
            duplicated += Math.Max(0, seen - batch.Rows);
            incomplete += seen < batch.Rows ? 1 : 0;
        }

        var failures = sent.Where(s => s.BatchId is null).ToList();
        var predict = accepted.Values.Select(s => s.Milliseconds).ToList();
        var firstSent = sent.Count == 0 ? (DateTimeOffset?)null : sent.Min(s => s.SentAt);
        var span = firstSent is { } f && lastEvaluation is { } e ? (e - f).TotalSeconds : 0;
        return new LoadOutcome
        {
            RowsIn = accepted.Values.Sum(s => (long)s.Rows),
            RowsOut = rowsOut,
            RowsDuplicated = duplicated,
            BatchesIncomplete = incomplete,
            Requests = sent.Count,
            FailedRequests = failures.Count,
            FirstFailure = failures.Count == 0 ? null
                : string.Create(CultureInfo.InvariantCulture, $"{(failures[0].Status == 0 ? "no answer" : "HTTP " + failures[0].Status)}: {failures[0].Error}"),
            Windows = ours,
            P50Ms = LoadMath.Percentile(latency, 0.50),
            P99Ms = LoadMath.Percentile(latency, 0.99),
            MaxLagRows = LoadMath.MaxLag(
                accepted.Select(a => (acceptedAt.TryGetValue(a.Key, out var t) ? t : a.Value.AnsweredAt, (long)a.Value.Rows)), evaluated),
            PredictP50Ms = LoadMath.Percentile(predict, 0.50),
            PredictP99Ms = LoadMath.Percentile(predict, 0.99),
            PredictMeanMs = predict.Count == 0 ? null : predict.Average(),
            WindowFillP50Ms = LoadMath.Percentile(fill, 0.50),
            WindowFillP99Ms = LoadMath.Percentile(fill, 0.99),
            WindowCloseP50Ms = LoadMath.Percentile(close, 0.50),
            WindowCloseP99Ms = LoadMath.Percentile(close, 0.99),
            RowsPerSecond = span > 0 ? rowsOut / span : 0,
        };
    }

    /// <summary>
    /// Mean of a Prometheus histogram in milliseconds over the series whose labels contain <paramref name="label"/>
    /// (e.g. <c>endpoint="predict"</c>), between two scrapes of the same service: Δ Σ _sum / Δ Σ _count (a null
    /// <paramref name="before"/> counts from zero). Null when absent or nothing was observed in between.
    /// </summary>
    public static double? HistogramMeanMs(string? before, string? after, string name, string label)
    {
        if (after is null)
        {
            return null;
        }

        var (sum0, count0) = HistogramTotals(before, name, label);
        var (sum1, count1) = HistogramTotals(after, name, label);
        return count1 > count0 ? (sum1 - sum0) / (count1 - count0) * 1000 : null;
    }

    private static (double Sum, double Count) HistogramTotals(string? metrics, string name, string label)
    {
        double sum = 0, count = 0;
        foreach (var line in (metrics ?? "").Split('\n'))
        {
            if (line.StartsWith('#') || !line.Contains(label, StringComparison.Ordinal))
            {
                continue;
            }

            var space = line.LastIndexOf(' ');
            if (space < 0 || !double.TryParse(line[(space + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            {
                continue;
            }

            if (line.StartsWith(name + "_sum{", StringComparison.Ordinal))
            {
                sum += value;
            }
            else if (line.StartsWith(name + "_count{", StringComparison.Ordinal))
            {
                count += value;
            }
        }

        return (sum, count);
    }
}
