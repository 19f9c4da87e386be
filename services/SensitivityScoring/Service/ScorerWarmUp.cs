using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pipeline.AdaptationRuns;
using Pipeline.Artifacts;
using Pipeline.ML.Sensitivity;
using Pipeline.Storage.Artifacts;
using Pipeline.Storage.Repositories;

namespace Pipeline.SensitivityScoring;

/// <summary>
/// Warms libtorch and the model-file path before the scorer takes its first job (<see cref="LibtorchWarmUp"/>), then the
/// job's own paths (<see cref="WorkerWarmUp"/>): the run and label queries, the artifact store, and one scoring pass
/// (SensitivityScorer) on 16 random rows, its mask written and deleted. Writes no row.
/// </summary>
public sealed class ScorerWarmUp(
    IOptions<ScoringServiceOptions> options, ILogger<ScorerWarmUp> logger, IAdaptationRunRepository runs, IModelRegistry registry,
    ModelArtifacts models, IArtifactStore artifacts, AdaptationSetBuilder builder, ISensitivityMaskRepository masks) : LibtorchWarmUp(logger)
{
    protected override (string Device, int Batch, int Seed) Plan => (options.Value.Device, 64, options.Value.Seed);

    protected override async Task WarmPathsAsync(CancellationToken ct)
    {
        var o = options.Value;
        StartWarmUp.WarmContracts();
        await StartWarmUp.WarmReadsAsync(runs, registry, ct);
        await builder.CollectAsync(StartWarmUp.ScratchModelId(), 1, null, ct);
        await masks.GetAsync(Guid.NewGuid(), ct);

        var (model, data) = await WorkerWarmUp.LoadedAsync(registry, models, artifacts, o.Device, rows: 16, o.Seed, ct);
        using var baseModel = model;
        using var rows = data;
        // The set's assembly (CollectAsync, Split, WithReplay) on the rows, without the reads that find none here.
        var blob = DatasetArtifacts.FromDataset(rows);
        var (head, tail) = blob.Split(8);
        var (shifted, _) = AdaptationSetBuilder.Split(FeatureBlob.Concat([head, tail]), o.HoldoutFraction, o.Seed);
        AdaptationSetBuilder.WithReplay(shifted, head, o.ReplayFraction, o.Seed, o.ClassBalancedReplay);
        using var mask = SensitivityScorer.Score(baseModel, rows, new ScoringOptions { SelectRate = o.SelectRate, Seed = o.Seed, Device = o.Device }, cancellationToken: ct);
        var stored = await artifacts.PutWrittenAsync(mask.Save, WorkerWarmUp.Kind, $"{Environment.ProcessId}-{Guid.NewGuid():N}.mask", ct);
        artifacts.Delete(stored.Uri);
    }
}
