using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pipeline.AdaptationRuns;
using Pipeline.Artifacts;
using Pipeline.ML.Strategies;
using Pipeline.Storage.Artifacts;
using Pipeline.Storage.Repositories;

namespace Pipeline.SparseTuning;

/// <summary>
/// Warms libtorch before the tuner takes its first job (<see cref="LibtorchWarmUp"/>), at the job's batch size on its
/// device, then the job's own paths (<see cref="WorkerWarmUp"/>): the run and registry queries, the artifact store, and
/// the regime memory's accumulation, and
/// one adaptation with Tuning:Strategy (two passes over 16 random rows) whose model is written and deleted. Registers nothing.
/// </summary>
public sealed class TunerWarmUp(
    IOptions<TuningServiceOptions> options, ILogger<TunerWarmUp> logger, IAdaptationRunRepository runs, IModelRegistry registry,
    ModelArtifacts models, IArtifactStore artifacts) : LibtorchWarmUp(logger)
{
    protected override (string Device, int Batch, int Seed) Plan => (options.Value.Device, options.Value.BatchSize, options.Value.Seed);

    protected override async Task WarmPathsAsync(CancellationToken ct)
    {
        var o = options.Value;
        StartWarmUp.WarmContracts();
        await StartWarmUp.WarmReadsAsync(runs, registry, ct);
        await models.FindByRunAsync(StartWarmUp.ScratchModelId(), Guid.NewGuid(), o.Strategy, ct);
        VersionMetadata.Parse(new VersionMetadata { RunId = Guid.NewGuid(), Strategy = o.Strategy }.ToJson());

        var (model, data) = await WorkerWarmUp.LoadedAsync(registry, models, artifacts, o.Device, rows: 16, o.Seed, ct);
        using var baseModel = model;
        using var rows = data;
        // The regime memory a job grows (RegimeMemory.AccumulateAsync) without its writes: two blocks of 8 rows into one of 12.
        var blob = DatasetArtifacts.FromDataset(rows);
        var (head, tail) = blob.Split(8);
        RegimeSets.Accumulate(head, null, tail, maxRows: 12, o.Seed);
        using var strategy = ContinualStrategies.Create(o.Strategy, baseModel.Info.Classes.Length);
        var context = new AdaptationContext
        {
            Seed = o.Seed, Budget = new AdaptationBudget { Epochs = 2, BatchSize = rows.Count }, BaseModel = baseModel, Reference = rows, Device = o.Device,
        };
        var (tuned, _) = strategy.Adapt(baseModel, rows, context, ct);
        using (tuned)
        {
            var stored = await artifacts.PutWrittenAsync(tuned.Save, WorkerWarmUp.Kind, $"{Environment.ProcessId}-{Guid.NewGuid():N}.model", ct);
            artifacts.Delete(stored.Uri);
        }
    }
}
