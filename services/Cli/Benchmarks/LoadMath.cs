namespace Pipeline.Cli.Benchmarks;

/// <summary>The arithmetic of <c>bench load</c>: percentiles (plain and weighted by rows) and the evaluation lag.</summary>
public static class LoadMath
{
    /// <summary>
    /// Nearest-rank percentile: the smallest value whose cumulative weight reaches <paramref name="p"/> of the total
    /// (p in [0, 1]). Latencies per row are batches weighted by their row counts. Null when there is no weight.
    /// </summary>
    public static double? Percentile(IEnumerable<(double Value, long Weight)> samples, double p)
    {
        ArgumentNullException.ThrowIfNull(samples);
        ArgumentOutOfRangeException.ThrowIfLessThan(p, 0.0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(p, 1.0);
        var sorted = samples.Where(s => s.Weight > 0).OrderBy(s => s.Value).ToList();
        var total = sorted.Sum(s => s.Weight);
        if (total == 0)
        {
            return null;
        }

        // Rank ceil(p × total), at least 1: p = 0 is the minimum, p = 1 the maximum.
        var rank = Math.Max(1, (long)Math.Ceiling(p * total));
        long cumulative = 0;
        foreach (var (value, weight) in sorted)
        {
            cumulative += weight;
            if (cumulative >= rank)
            {
                return value;
            }
        }

        return sorted[^1].Value;
    }

    /// <summary>Nearest-rank percentile of unweighted values (each request's latency).</summary>
    public static double? Percentile(IEnumerable<double> values, double p) =>
        Percentile(values.Select(v => (v, 1L)), p);

    /// <summary>
    /// Rows accepted by the API but not yet in an evaluated window, at its largest: the running sum of +rows at each
    /// acceptance and -rows at each evaluation, in time order. At the same instant acceptances count first (the
    /// larger, conservative figure).
    /// </summary>
    public static long MaxLag(IEnumerable<(DateTimeOffset At, long Rows)> accepted, IEnumerable<(DateTimeOffset At, long Rows)> evaluated)
    {
        ArgumentNullException.ThrowIfNull(accepted);
        ArgumentNullException.ThrowIfNull(evaluated);
        var events = accepted.Select(a => (a.At, Order: 0, Delta: a.Rows))
            .Concat(evaluated.Select(e => (e.At, Order: 1, Delta: -e.Rows)))
            .OrderBy(e => e.At).ThenBy(e => e.Order);
        long lag = 0, max = 0;
        foreach (var e in events)
        {
            lag += e.Delta;
            max = Math.Max(max, lag);
        }

        return max;
    }

    /// <summary>
    /// Rows per model: rate × seconds shared by the models, rounded down to whole windows so that every row closes a
    /// window (DriftDetection evaluates full windows only). Zero when not even one window fits.
    /// </summary>
    public static int RowsPerModel(int rate, int seconds, int models, int windowRows)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(models, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(windowRows, 1);
        var perModel = (long)rate * seconds / models;
        return (int)Math.Min(int.MaxValue / 2, perModel / windowRows * windowRows);
    }

    /// <summary>
    /// The load's batches in sending order: each model's rows in batches of <paramref name="batch"/> (its last batch
    /// smaller when the rows are not a multiple), the models taking turns, each batch due when the rows before it
    /// took their share of the rate.
    /// </summary>
    public static IReadOnlyList<PlannedBatch> Plan(int rowsPerModel, int batch, int models, int rate)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(rate, 1);
        var perModel = (rowsPerModel + batch - 1) / batch;
        var plan = new List<PlannedBatch>(perModel * models);
        long sent = 0;
        for (var i = 0; i < perModel; i++)
        {
            var rows = Math.Min(batch, rowsPerModel - (i * batch));
            for (var m = 0; m < models; m++)
            {
                plan.Add(new PlannedBatch(m, rows, TimeSpan.FromSeconds((double)sent / rate)));
                sent += rows;
            }
        }

        return plan;
    }
}

/// <summary>One request of the load: model index, rows, when it is due after the start.</summary>
public sealed record PlannedBatch(int Model, int Rows, TimeSpan Due);
