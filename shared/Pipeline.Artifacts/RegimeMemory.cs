using Pipeline.Contracts;

namespace Pipeline.Artifacts;

/// <summary>
/// What a new version remembers of the regimes it serves: its base version's replay set and gate holdout, each
/// with a bounded, class-balanced share of the new regime added (<see cref="RegimeSets.Accumulate"/>). The new
/// regime's replay rows come from the run's adaptation set (training rows), its holdout rows from the run's shifted
/// holdout (never trained on), so the gate holdout stays disjoint from every row used for training or readout
/// statistics.
/// </summary>
public static class RegimeMemory
{
    public static async Task<VersionMetadata> AccumulateAsync(
        this DatasetArtifacts datasets, VersionMetadata baseMeta, PayloadRef adaptationSet, PayloadRef shiftedHoldout,
        string modelId, Guid runId, int maxRows, int seed, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(datasets);
        ArgumentNullException.ThrowIfNull(baseMeta);
        var (replay, replayRows) = await AddAsync(datasets, baseMeta.ReplaySet, baseMeta.ReplayRegimeRows, adaptationSet,
            $"{modelId}/{runId}/replay.pfb", maxRows, seed, ct);
        var (holdout, holdoutRows) = await AddAsync(datasets, baseMeta.ReferenceHoldout, baseMeta.HoldoutRegimeRows, shiftedHoldout,
            $"{modelId}/{runId}/reference-holdout.pfb", maxRows, seed + 1, ct);
        return baseMeta with { ReplaySet = replay, ReplayRegimeRows = replayRows, ReferenceHoldout = holdout, HoldoutRegimeRows = holdoutRows };
    }

    private static async Task<(PayloadRef? Set, IReadOnlyList<int>? Rows)> AddAsync(
        DatasetArtifacts datasets, PayloadRef? previous, IReadOnlyList<int>? previousRows, PayloadRef added, string name, int maxRows,
        int seed, CancellationToken ct)
    {
        if (previous is null)
        {
            // A version registered without this set keeps going without it (nothing to accumulate onto).
            return (null, null);
        }

        var (rows, regimeRows) = RegimeSets.Accumulate(
            await datasets.LoadAsync(previous, ct), previousRows, await datasets.LoadAsync(added, ct), maxRows, seed);
        return (await datasets.SaveAsync(rows, "datasets", name, ct), regimeRows);
    }
}
