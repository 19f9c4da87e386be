using System.Threading.Channels;
using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pipeline.Adaptation;
using Pipeline.Contracts;
using Pipeline.Hosting;
using Pipeline.ML.Sensitivity;
using Pipeline.ML.Tuning;
using Pipeline.Storage.Artifacts;
using Pipeline.Storage.Repositories;

namespace Pipeline.SparseTuning;

/// <summary>
/// SensitivityScored → candidate tuned with the configured strategy (MIST by default), registered
/// as the next version → CandidateTrained, with TuningProgress while it runs. One job per worker
/// (prefetch 1, concurrency 1), so tuners scale out as competing consumers.
/// </summary>
public sealed class SensitivityScoredConsumer(
    IAdaptationRunRepository runs, IArtifactStore artifacts, ModelArtifacts models, DatasetArtifacts datasets, IBus bus,
    IOptions<TuningServiceOptions> options, ILogger<SensitivityScoredConsumer> logger)
    : IConsumer<SensitivityScored>
{
    private const string Stage = "tune";

    public async Task Consume(ConsumeContext<SensitivityScored> context)
    {
        var m = context.Message;
        var ct = context.CancellationToken;
        var o = options.Value;
        if (await RunStages.ClaimAsync(runs, context, logger, m.RunId, m.ModelId, RunState.Scoring, RunState.Tuning,
                new RunUpdate { Strategy = o.Strategy }, $"tuning with {o.Strategy}", ct) is null)
        {
            return;
        }

        try
        {
            await TuneAsync(context, m, o, ct);
        }
        catch (Exception ex) when (ex is ModelNotFoundException or ArtifactStoreException or InvalidDataException)
        {
            await RunFailures.FailAsync(runs, context, logger, m.RunId, m.ModelId, Stage, ex.Message, ct);
        }
    }

    private async Task TuneAsync(ConsumeContext context, SensitivityScored m, TuningServiceOptions o, CancellationToken ct)
    {
        if (await models.FindByRunAsync(m.ModelId, m.RunId, ct) is { } registered)
        {
            // A retry after the candidate was registered but before CandidateTrained went out: announce
            // the registered one rather than training and registering a second.
            logger.LogWarning("Run {RunId} already registered v{Version}; announcing it", m.RunId, registered.Version);
            var meta = VersionMetadata.Parse(registered.MetadataJson);
            await context.Publish(new CandidateTrained
            {
                RunId = m.RunId, ModelId = m.ModelId, BaseVersion = m.ModelVersion, CandidateVersion = registered.Version,
                ArtifactUri = registered.ArtifactUri, Sha256 = registered.Sha256, Strategy = meta.Strategy ?? o.Strategy,
                SelectedFraction = m.SelectedFraction, UpdatedFractionPerStep = 0, Steps = 0, TrainSeconds = 0, Device = "n/a",
                AdaptationSetId = m.AdaptationSetId, ShiftedHoldout = m.ShiftedHoldout,
            }, ct);
            return;
        }

        var (model, baseRecord) = await models.LoadAsync(m.ModelId, m.ModelVersion, o.Device, ct);
        using var baseModel = model;
        using var data = DatasetArtifacts.ToDataset(await datasets.LoadAsync(m.AdaptationSet, ct), model.Info.InputShape);
        using var mask = o.Strategy == "mist"
            ? Pipeline.ML.Sensitivity.SensitivityMask.Load(await artifacts.GetVerifiedLocalPathAsync(m.MaskUri, m.Sha256, ct))
            : null;

        var tuning = new TuningOptions
        {
            Steps = o.Steps, LearningRate = o.LearningRate, DropRate = o.DropRate, BatchSize = o.BatchSize,
            MiPhaseFraction = o.MiPhaseFraction, SelectRate = o.SelectRate, Seed = o.Seed, Device = o.Device,
        };

        // Progress goes out live through the bus, not the consume context (whose outbox would hold
        // it until the job ends).
        var progress = Channel.CreateUnbounded<TuningStep>(new UnboundedChannelOptions { SingleReader = true });
        var pump = PumpProgressAsync(progress.Reader, m, o.ProgressEverySteps, ct);
        TuningResult result;
        try
        {
            result = await Task.Run(
                () => Tuner.Tune(o.Strategy, baseModel, mask, data, tuning, new Progress(progress.Writer), ct), ct);
        }
        finally
        {
            progress.Writer.TryComplete();
            await pump;
        }

        using var tuned = result;
        var metadata = VersionMetadata.Parse(baseRecord.MetadataJson) with
        {
            // Future traffic is compared with what this version was adapted to.
            DriftReference = m.AdaptationSet, RunId = m.RunId, BaseVersion = m.ModelVersion, Strategy = o.Strategy,
        };
        var record = await models.RegisterAsync(m.ModelId, tuned.Model, "sparse-tuning", metadata, version: null, ct);
        var s = tuned.Stats;
        logger.LogInformation(
            "Run {RunId}: {Strategy} trained v{Version} in {Seconds:F1} s on {Device}: {Selected:P2} selected, {PerStep:P3} changed per step",
            m.RunId, s.Strategy, record.Version, s.TrainSeconds, s.Device, s.SelectedFraction, s.UpdatedFractionPerStep);
        await context.Publish(new CandidateTrained
        {
            RunId = m.RunId, ModelId = m.ModelId, BaseVersion = m.ModelVersion, CandidateVersion = record.Version,
            ArtifactUri = record.ArtifactUri, Sha256 = record.Sha256, Strategy = s.Strategy,
            SelectedFraction = s.SelectedFraction, UpdatedFractionPerStep = s.UpdatedFractionPerStep, Steps = s.Steps,
            TrainSeconds = s.TrainSeconds, Device = s.Device, AdaptationSetId = m.AdaptationSetId, ShiftedHoldout = m.ShiftedHoldout,
        }, ct);
    }

    private async Task PumpProgressAsync(ChannelReader<TuningStep> steps, SensitivityScored m, int every, CancellationToken ct)
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
