namespace Pipeline.Artifacts;

/// <summary>
/// Labelled rows kept per regime (the original distribution and every shift a model has adapted to), bounded and
/// class-balanced: a version's replay set and its gate holdout. The rows of regime i are the i-th block of the blob,
/// in order; <c>regimeRows[i]</c> says how many. Pure and seeded: the same inputs give the same rows.
/// </summary>
public static class RegimeSets
{
    /// <summary>
    /// Indices of up to <paramref name="count"/> rows taken class by class in turn (each class's rows in a seeded
    /// order), so every class present gets the same share, give or take one, unless it has fewer rows; the indices
    /// come back in ascending order.
    /// </summary>
    public static int[] ClassBalancedPick(IReadOnlyList<int> labels, int count, int seed)
    {
        ArgumentNullException.ThrowIfNull(labels);
        count = Math.Clamp(count, 0, labels.Count);
        var rng = new Random(seed);
        var byClass = labels.Select((label, row) => (label, row)).GroupBy(x => x.label).OrderBy(g => g.Key)
            .Select(g =>
            {
                var rows = g.Select(x => x.row).ToArray();
                rng.Shuffle(rows);
                return new Queue<int>(rows);
            }).ToList();
        var picked = new List<int>(count);
        while (picked.Count < count)
        {
            foreach (var queue in byClass.Where(q => q.Count > 0))
            {
                if (picked.Count == count)
                {
                    break;
                }

                picked.Add(queue.Dequeue());
            }
        }

        picked.Sort();
        return [.. picked];
    }

    /// <summary>The rows at <paramref name="indices"/>, in that order.</summary>
    public static FeatureBlob Rows(FeatureBlob blob, IReadOnlyList<int> indices)
    {
        ArgumentNullException.ThrowIfNull(blob);
        ArgumentNullException.ThrowIfNull(indices);
        var features = new float[(long)indices.Count * blob.Columns];
        for (var k = 0; k < indices.Count; k++)
        {
            blob.Row(indices[k]).CopyTo(features.AsSpan(k * blob.Columns));
        }

        return new FeatureBlob(indices.Count, blob.Columns, features, blob.Labels is { } l ? indices.Select(i => l[i]).ToArray() : null);
    }

    /// <summary>Every row once, in a seeded random order (the same seed gives the same order).</summary>
    public static FeatureBlob Shuffled(FeatureBlob rows, int seed)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var order = Enumerable.Range(0, rows.Rows).ToArray();
        new Random(seed).Shuffle(order);
        return Rows(rows, order);
    }

    /// <summary>
    /// Each block's share of <paramref name="maxRows"/>: equal shares, and what a small block cannot use goes to
    /// the others (water-filling). Every non-empty block keeps at least one row when <paramref name="maxRows"/> allows.
    /// </summary>
    public static int[] Quotas(IReadOnlyList<int> blockRows, int maxRows)
    {
        ArgumentNullException.ThrowIfNull(blockRows);
        var quotas = new int[blockRows.Count];
        var left = Math.Max(0, maxRows);
        var open = Enumerable.Range(0, blockRows.Count).Where(i => blockRows[i] > 0).OrderBy(i => blockRows[i]).ThenBy(i => i).ToList();
        while (open.Count > 0)
        {
            var share = left / open.Count;
            var i = open[0];
            if (blockRows[i] <= share)
            {
                quotas[i] = blockRows[i];
                left -= blockRows[i];
                open.RemoveAt(0);
                continue;
            }

            // Every remaining block is larger than the share: split what is left, the remainder to the earliest blocks.
            var extra = left - (share * open.Count);
            foreach (var j in open.OrderBy(j => j))
            {
                quotas[j] = share + (extra-- > 0 ? 1 : 0);
            }

            break;
        }

        return quotas;
    }

    /// <summary>
    /// The previous regimes' rows plus a new regime's, at most <paramref name="maxRows"/> in all: every regime keeps a
    /// share (see <see cref="Quotas"/>), drawn class-balanced from its block. A previous set without block sizes
    /// (<paramref name="previousRegimeRows"/> null) is one regime.
    /// </summary>
    public static (FeatureBlob Rows, int[] RegimeRows) Accumulate(
        FeatureBlob previous, IReadOnlyList<int>? previousRegimeRows, FeatureBlob added, int maxRows, int seed)
    {
        ArgumentNullException.ThrowIfNull(previous);
        ArgumentNullException.ThrowIfNull(added);
        if (previous.Labels is null || added.Labels is null)
        {
            throw new InvalidDataException("regime sets need labelled rows");
        }

        var sizes = previousRegimeRows is { Count: > 0 } given ? given.ToList() : [previous.Rows];
        if (sizes.Sum() != previous.Rows || sizes.Any(s => s < 0))
        {
            throw new InvalidDataException($"regime sizes [{string.Join(", ", sizes)}] do not add up to the set's {previous.Rows} rows");
        }

        var blocks = new List<FeatureBlob>();
        var rest = previous;
        foreach (var size in sizes)
        {
            var (head, tail) = rest.Split(size);
            blocks.Add(head);
            rest = tail;
        }

        blocks.Add(added);
        var quotas = Quotas(blocks.Select(b => b.Rows).ToList(), maxRows);
        var kept = blocks.Select((b, i) => Rows(b, ClassBalancedPick(b.Labels!, quotas[i], seed + i))).ToList();
        var nonEmpty = kept.Where(b => b.Rows > 0).ToList();
        var rows = nonEmpty.Count == 0 ? new FeatureBlob(0, added.Columns, [], []) : FeatureBlob.Concat(nonEmpty);
        return (rows, [.. nonEmpty.Select(b => b.Rows)]);
    }
}
