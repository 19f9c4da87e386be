using System.Globalization;

namespace Pipeline.Drift.Monitoring;

/// <summary>Where a row came from (e.g. an ingested batch) and when that source was accepted.</summary>
/// <param name="Id">Source id (a batch id).</param>
/// <param name="AcceptedAt">When the source was accepted upstream, if known.</param>
public sealed record RowSource(string Id, DateTimeOffset? AcceptedAt = null);

/// <summary><paramref name="Rows"/> rows of <paramref name="Source"/> that were new in a window.</summary>
public sealed record WindowSegment(string Source, DateTimeOffset? AcceptedAt, int Rows);

/// <summary>The rows of one closing window, the sources of its new rows and the rejections since the previous one.</summary>
internal sealed record WindowRows(Observation[] Rows, IReadOnlyList<WindowSegment> NewRows, int Rejected, SortedDictionary<string, int> Problems);

/// <summary>
/// The row buffer of a <see cref="DriftMonitor"/>: a ring of the last WindowSize accepted rows, the
/// sources of the rows accepted since the last window closed (each accepted row is new in exactly one
/// window) and the rejections not yet reported. Not thread-safe: the monitor locks.
/// </summary>
internal sealed class WindowBuffer(int size, WindowKind kind)
{
    private readonly Observation[] ring = new Observation[size];
    private readonly List<WindowSegment> pendingSegments = [];
    private readonly SortedDictionary<string, int> problemsPending = new(StringComparer.Ordinal);
    private int start;
    private int rejectedPending;

    /// <summary>Rows in the ring.</summary>
    public int Count { get; private set; }

    /// <summary>Rows accepted since the last window closed.</summary>
    public int SinceEval { get; private set; }

    /// <summary>Rows rejected since the last window closed.</summary>
    public int RejectedPending => rejectedPending;

    /// <summary>The ring is full.</summary>
    public bool Full => Count == ring.Length;

    public void Reject(string why)
    {
        rejectedPending++;
        Problems.Note(problemsPending, why);
    }

    public void Push(Observation row, RowSource? source)
    {
        if (Count == ring.Length)
        {
            ring[start] = row;
            start = (start + 1) % ring.Length;
        }
        else
        {
            ring[(start + Count) % ring.Length] = row;
            Count++;
        }

        SinceEval++;
        if (source is null)
        {
            return;
        }

        if (pendingSegments.Count > 0 && pendingSegments[^1] is { } last && last.Source == source.Id)
        {
            pendingSegments[^1] = last with { Rows = last.Rows + 1 };
        }
        else
        {
            pendingSegments.Add(new WindowSegment(source.Id, source.AcceptedAt, 1));
        }
    }

    /// <summary>
    /// Closes a window: a partial one holds the rows since the last evaluation, a full one the whole
    /// ring. Tumbling and partial windows empty the ring; sliding ones keep it.
    /// </summary>
    public WindowRows Take(bool partial)
    {
        int take = partial ? Math.Min(SinceEval, Count) : Count;
        var rows = new Observation[take];
        for (int i = 0; i < take; i++) rows[i] = ring[(start + Count - take + i) % ring.Length];
        var result = new WindowRows(rows, pendingSegments.ToList(), rejectedPending, new SortedDictionary<string, int>(problemsPending, StringComparer.Ordinal));
        pendingSegments.Clear();
        problemsPending.Clear();
        rejectedPending = 0;
        SinceEval = 0;
        if (kind == WindowKind.Tumbling || partial)
        {
            start = 0;
            Count = 0;
        }

        return result;
    }
}

/// <summary>Problem notes: message → occurrences.</summary>
internal static class Problems
{
    public static void Note(SortedDictionary<string, int> problems, string message) =>
        problems[message] = problems.TryGetValue(message, out int n) ? n + 1 : 1;

    public static List<string> Render(SortedDictionary<string, int> problems) =>
        problems.Select(kv => kv.Value > 1 ? string.Create(CultureInfo.InvariantCulture, $"{kv.Key} (x{kv.Value})") : kv.Key).ToList();
}
