using System.Threading.Channels;
using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pipeline.Artifacts;
using Pipeline.AdaptationRuns;
using Pipeline.Contracts;
using Pipeline.Hosting;
using Pipeline.ML.Data;
using Pipeline.ML.Models;
using Pipeline.ML.Strategies;
using Pipeline.ML.Tuning;
using Pipeline.Storage.Repositories;

namespace Pipeline.SparseTuning;

/// <summary>
/// TrainCandidate → a candidate trained with the work's strategy (or Tuning:Strategy when it names none) through the
/// strategy interface the benchmarks use (<see cref="IContinualStrategy"/>), registered as the next version
/// → CandidateTrained, with TuningProgress while it runs. One job per worker (prefetch 1, concurrency 1), so tuners
/// scale out as competing consumers and a tournament's candidates train in parallel on as many workers as there are.
/// Work done twice announces the version already registered for the run and strategy instead of registering another.
/// </summary>
public sealed class TrainCandidateConsumer(
    StageWork stage, ModelArtifacts models, DatasetArtifacts datasets, IBus bus,
    IOptions<TuningServiceOptions> options, ILogger<TrainCandidateConsumer> logger)
    : IConsumer<TrainCandidate>
{
    public Task Consume(ConsumeContext<TrainCandidate> context)
    {
        var m = context.Message;
        var strategy = m.Strategy ?? options.Value.Strategy;
        return stage.DoAsync(context, m, RunStage.Tune, m.Attempt, () => TuneAsync(context, m, strategy, options.Value, context.CancellationToken),
            ex => ArtifactFailures.IsKnown(ex) || ex is ArgumentException, describe: ex => $"{strategy}: {ex.Message}", failed: m.Strategy);
    }

    private async Task TuneAsync(ConsumeContext context, TrainCandidate m, string strategy, TuningServiceOptions o, CancellationToken ct)
    {
        if (await models.FindByRunAsync(m.ModelId, m.RunId, strategy, ct) is { } registered)
        {
            await AnnounceRegisteredAsync(context, m, registered, strategy, ct);
            return;
        }

        var (model, baseRecord) = await models.LoadAsync(m.ModelId, m.BaseVersion, o.Device, ct);
        using var baseModel = model;
        using var data = DatasetArtifacts.ToDataset(await datasets.LoadAsync(m.AdaptationSet, ct), model.Info.InputShape);
        // The strategy's labelled original data (readout initialisation, EWC's Fisher, LoRA's shift): the version's
        // replay set, never the gate's reference holdout. A version without one lends the adaptation set.
        var baseMeta = VersionMetadata.Parse(baseRecord.MetadataJson);
        using var reference = baseMeta.ReplaySet is { } replay
            ? DatasetArtifacts.ToDataset(await datasets.LoadAsync(replay, ct), model.Info.InputShape)
            : data.Take(data.Count);

        // Progress goes out live through the bus, not the consume context (whose outbox would hold
        // it until the job ends).
        var progress = Channel.CreateUnbounded<TuningStep>(new UnboundedChannelOptions { SingleReader = true });
        var pump = PumpProgressAsync(progress.Reader, m, o.ProgressEverySteps, ct);
        ModelBundle tunedModel;
        AdaptationStats stats;
        try
        {
            (tunedModel, stats) = await Task.Run(
                () => ComputeClock.Time(() => Train(strategy, baseModel, data, reference, o, new Progress(progress.Writer), ct)), ct);
        }
        finally
        {
            progress.Writer.TryComplete();
            await pump;
        }

        using var tuned = tunedModel;
        // The replay set and gate holdout grow by this regime (bounded, class-balanced), so the next run's gate
        // measures forgetting on every regime this version serves.
        var metadata = await datasets.AccumulateAsync(baseMeta, m.AdaptationSet, m.ShiftedHoldout, m.ModelId, m.RunId, o.MaxRegimeRows, o.Seed, ct) with
        {
            // Future traffic is compared with what this version was adapted to.
            DriftReference = m.AdaptationSet, RunId = m.RunId, BaseVersion = m.BaseVersion, Strategy = strategy,
        };
        if (await models.FindByRunAsync(m.ModelId, m.RunId, strategy, ct) is { } meanwhile)
        {
            // Another worker finished the same work first: one candidate per run and strategy.
            await AnnounceRegisteredAsync(context, m, meanwhile, strategy, ct);
            return;
        }

        var record = await models.RegisterAsync(m.ModelId, tuned, "sparse-tuning", metadata, version: null, ct);
        var device = ComputeDevice.Describe(tuned.Device);
        logger.LogInformation(
            "Run {RunId}: {Strategy} trained v{Version} in {Seconds:F1} s on {Device}: {Selected:P2} selected, {PerStep:P3} changed per step ({Detail})",
            m.RunId, strategy, record.Version, stats.TrainSeconds, device, stats.SelectedFraction, stats.UpdatedFractionPerStep, stats.Detail);
        await context.Publish(new CandidateTrained
        {
            RunId = m.RunId, ModelId = m.ModelId, BaseVersion = m.BaseVersion, CandidateVersion = record.Version,
            ArtifactUri = record.ArtifactUri, Sha256 = record.Sha256, Strategy = strategy,
            SelectedFraction = stats.SelectedFraction, UpdatedFractionPerStep = stats.UpdatedFractionPerStep, Steps = stats.Steps,
            TrainSeconds = stats.TrainSeconds, Device = device, AdaptationSetId = m.AdaptationSetId, ShiftedHoldout = m.ShiftedHoldout,
        }, ct);
    }

    /// <summary>One adaptation through the library's strategy interface, under the bench-adapt sample budget.</summary>
    private static (ModelBundle Model, AdaptationStats Stats) Train(string strategy, ModelBundle baseModel, ImageDataset data,
        ImageDataset reference, TuningServiceOptions o, IProgress<TuningStep> progress, CancellationToken ct)
    {
        using var s = ContinualStrategies.Create(strategy, baseModel.Info.Classes.Length);
        // The gate in the same process times latency only while no candidate trains (ProcessCompute).
        using var lease = ML.Evaluation.ProcessCompute.Training();
        var context = new AdaptationContext
        {
            Seed = o.Seed,
            Budget = new AdaptationBudget { Epochs = o.EpochsFor(data.Count), BatchSize = Math.Max(1, Math.Min(o.BatchSize, data.Count)) },
            BaseModel = baseModel, Reference = reference, Device = o.Device, Progress = progress,
        };
        return s.Adapt(baseModel, data, context, ct);
    }

    /// <summary>Work done again after the candidate was registered: announce that one rather than register a second.</summary>
    private async Task AnnounceRegisteredAsync(ConsumeContext context, TrainCandidate m, ModelVersionRecord registered, string strategy, CancellationToken ct)
    {
        logger.LogWarning("Run {RunId} already registered v{Version} ({Strategy}); announcing it", m.RunId, registered.Version, strategy);
        await context.Publish(new CandidateTrained
        {
            RunId = m.RunId, ModelId = m.ModelId, BaseVersion = m.BaseVersion, CandidateVersion = registered.Version,
            ArtifactUri = registered.ArtifactUri, Sha256 = registered.Sha256, Strategy = strategy,
            SelectedFraction = m.SelectedFraction, UpdatedFractionPerStep = 0, Steps = 0, TrainSeconds = 0, Device = "n/a",
            AdaptationSetId = m.AdaptationSetId, ShiftedHoldout = m.ShiftedHoldout,
        }, ct);
    }

    private async Task PumpProgressAsync(ChannelReader<TuningStep> steps, TrainCandidate m, int every, CancellationToken ct)
    {
        await foreach (var step in steps.ReadAllAsync(CancellationToken.None))
        {
            if (step.Step % every != 0 && step.Step != step.TotalSteps)
            {
                continue;
            }

            try
            {
                await bus.Publish(new TuningProgress
                {
                    RunId = m.RunId, ModelId = m.ModelId, Step = step.Step, TotalSteps = step.TotalSteps,
                    Loss = double.IsFinite(step.Loss) ? step.Loss : 0, UpdatedFraction = step.UpdatedFraction, Phase = step.Phase,
                }, ct);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogWarning(ex, "Could not publish tuning progress for run {RunId}", m.RunId);
            }
        }
    }

    /// <summary>Synchronous IProgress that never blocks the training loop.</summary>
    private sealed class Progress(ChannelWriter<TuningStep> writer) : IProgress<TuningStep>
    {
        public void Report(TuningStep value) => writer.TryWrite(value);
    }
}
