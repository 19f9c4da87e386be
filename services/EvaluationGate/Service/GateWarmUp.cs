using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pipeline.AdaptationRuns;
using Pipeline.Artifacts;
using Pipeline.ML.Evaluation;
using Pipeline.Storage.Artifacts;
using Pipeline.Storage.Repositories;

namespace Pipeline.EvaluationGate;

/// <summary>
/// Warms libtorch and the model-file path before the gate evaluates its first candidate (<see cref="LibtorchWarmUp"/>),
/// then the job's own paths (<see cref="WorkerWarmUp"/>): the run and registry queries, the artifact store, and one
/// measurement (accuracy, paired intervals, a two-pair latency comparison) of a model against itself on 16 random rows,
/// decided by the policy and not recorded. Writes no row and no metric.
/// </summary>
public sealed class GateWarmUp(
    IOptions<GateOptions> options, ILogger<GateWarmUp> logger, IAdaptationRunRepository runs, IModelRegistry registry,
    ModelArtifacts models, IArtifactStore artifacts) : LibtorchWarmUp(logger)
{
    protected override (string Device, int Batch, int Seed) Plan => (options.Value.Device, options.Value.LatencyBatchSize, 1);

    protected override async Task WarmPathsAsync(CancellationToken ct)
    {
        var o = options.Value;
        StartWarmUp.WarmContracts();
        await StartWarmUp.WarmReadsAsync(runs, registry, ct);

        var (model, data) = await WorkerWarmUp.LoadedAsync(registry, models, artifacts, o.Device, rows: 16, seed: 1, ct);
        using var production = model;
        using var rows = data;
        var settings = new GateMeasurementSettings(o.Confidence, GatePolicy.ClassConfidence(o, production.Info.Classes.Length),
            Math.Clamp(o.LatencyBatchSize, 1, 16), LatencyPairs: 2, AlwaysJudgeLatency: true, LatencyQuietWait: TimeSpan.Zero);
        GatePolicy.Decide(GateMeasurement.Measure(production, production, rows, rows, settings), o);
    }
}
