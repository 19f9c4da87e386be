using Microsoft.Extensions.Options;
using Pipeline.Artifacts;
using Pipeline.Storage.Repositories;

namespace Pipeline.SensitivityScoring;

/// <summary>Collects the most recent labelled production rows of a model version.</summary>
public sealed class AdaptationSetBuilder(
    IObservationRepository observations, DatasetArtifacts datasets, IOptions<ScoringServiceOptions> options, TimeProvider time)
{
    /// <summary>Labelled rows received since <paramref name="since"/> (newest first, at most MaxRows).</summary>
    public async Task<FeatureBlob?> CollectAsync(string modelId, int version, DateTimeOffset? since, CancellationToken ct)
    {
        var o = options.Value;
        var batches = await observations.ListLabelledBatchesAsync(modelId, limit: 1000, since: since, cancellationToken: ct);
        var parts = new List<FeatureBlob>();
        var rows = 0;
        foreach (var batch in batches.Where(b => b.ModelVersion == version && b.Labels is not null).OrderByDescending(b => b.ReceivedAt))
        {
            var blob = await datasets.LoadAsync(batch.FeaturesUri, batch.FeaturesSha256, ct);
            var keep = Enumerable.Range(0, blob.Rows).Where(i => i < batch.Labels!.Count && batch.Labels[i] >= 0).ToArray();
            if (keep.Length == 0)
            {
                continue;
            }

            var features = new float[keep.Length * blob.Columns];
            for (var k = 0; k < keep.Length; k++)
            {
                blob.Row(keep[k]).CopyTo(features.AsSpan(k * blob.Columns));
            }

            parts.Add(new FeatureBlob(keep.Length, blob.Columns, features, keep.Select(i => batch.Labels![i]).ToArray()));
            rows += keep.Length;
            if (rows >= o.MaxRows)
            {
                break;
            }
        }

        if (parts.Count == 0)
        {
            return null;
        }

        var all = FeatureBlob.Concat(parts);
        return all.Rows > o.MaxRows ? all.Split(o.MaxRows).Head : all;
    }

    /// <summary>Waits until at least MinLabelledRows labelled rows exist, or the timeout passes.</summary>
    public async Task<(FeatureBlob? Rows, int Available)> WaitForLabelsAsync(string modelId, int version, DateTimeOffset? since, CancellationToken ct)
    {
        var o = options.Value;
        var deadline = time.GetUtcNow() + o.LabelWaitTimeout;
        while (true)
        {
            var rows = await CollectAsync(modelId, version, since, ct);
            var available = rows?.Rows ?? 0;
            if (available >= o.MinLabelledRows)
            {
                return (rows, available);
            }

            if (time.GetUtcNow() >= deadline)
            {
                return (null, available);
            }

            await Task.Delay(o.LabelPollInterval, time, ct);
        }
    }

    /// <summary>
    /// Adds replay rows so they make up <paramref name="fraction"/> of the result, then shuffles
    /// (seeded) so batches mix both distributions. The replay rows are drawn class-balanced (every class
    /// of the replay set gets the same share, give or take one), so tuning protects every class, not only
    /// the frequent ones in the shifted traffic.
    /// </summary>
    public static FeatureBlob WithReplay(FeatureBlob adaptation, FeatureBlob replay, double fraction, int seed, bool classBalanced = true)
    {
        if (fraction <= 0 || replay.Rows == 0)
        {
            return adaptation;
        }

        var wanted = (int)Math.Round(adaptation.Rows * fraction / (1 - fraction));
        var picked = classBalanced
            ? RegimeSets.Rows(replay, RegimeSets.ClassBalancedPick(replay.Labels ?? throw new InvalidDataException("the replay set has no labels"), wanted, seed + 1))
            : Split(replay, 1 - Math.Clamp((double)wanted / replay.Rows, 0, 1), seed + 1).Adaptation;
        var (mixed, _) = Split(FeatureBlob.Concat([adaptation, picked]), 0, seed + 2);
        return mixed;
    }

    /// <summary>Seeded shuffle, then split into adaptation set and holdout.</summary>
    public static (FeatureBlob Adaptation, FeatureBlob Holdout) Split(FeatureBlob rows, double holdoutFraction, int seed)
    {
        var shuffled = RegimeSets.Shuffled(rows, seed);
        var holdout = (int)Math.Round(rows.Rows * holdoutFraction);
        var (head, tail) = shuffled.Split(holdout);
        return (tail, head);
    }
}
