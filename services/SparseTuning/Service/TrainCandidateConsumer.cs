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
/// TrainCandidate → candidate tuned with the configured strategy (MIST by default), registered as
/// the next version → CandidateTrained, with TuningProgress while it runs. One job per worker
/// (prefetch 1, concurrency 1), so tuners scale out as competing consumers. Work done twice
/// announces the candidate already registered for the run instead of registering a second.
/// </summary>
public sealed class TrainCandidateConsumer(
    IAdaptationRunRepository runs, IArtifactStore artifacts, ModelArtifacts models, DatasetArtifacts datasets, IBus bus,
    IOptions<TuningServiceOptions> options, ILogger<TrainCandidateConsumer> logger)
    : IConsumer<TrainCandidate>
{
    private const string Stage = "tune";

    public async Task Consume(ConsumeContext<TrainCandidate> context)
    {
        var m = context.Message;
        var ct = context.CancellationToken;
        if (!await StageWork.IsWantedAsync(runs, m, m.Attempt, logger, ct))
        {
            return;
        }

        try
        {
            await TuneAsync(context, m, options.Value, ct);
        }
        catch (Exception ex) when (ex is ModelNotFoundException or ArtifactStoreException or InvalidDataException)
        {
            await StageWork.FailAsync(context, logger, m, Stage, ex.Message);
        }
    }

    private async Task TuneAsync(ConsumeContext context, TrainCandidate m, TuningServiceOptions o, CancellationToken ct)
    {
        if (await models.FindByRunAsync(m.ModelId, m.RunId, ct) is { } registered)
        {
            await AnnounceRegisteredAsync(context, m, registered, o, ct);
            return;
        }

        var (model, baseRecord) = await models.LoadAsync(m.ModelId, m.BaseVersion, o.Device, ct);
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
            DriftReference = m.AdaptationSet, RunId = m.RunId, BaseVersion = m.BaseVersion, Strategy = o.Strategy,
        };
        if (await models.FindByRunAsync(m.ModelId, m.RunId, ct) is { } meanwhile)
        {
            // Another worker finished the same work first: one candidate per run.
            await AnnounceRegisteredAsync(context, m, meanwhile, o, ct);
            return;
        }

        var record = await models.RegisterAsync(m.ModelId, tuned.Model, "sparse-tuning", metadata, version: null, ct);
        var s = tuned.Stats;
        logger.LogInformation(
            "Run {RunId}: {Strategy} trained v{Version} in {Seconds:F1} s on {Device}: {Selected:P2} selected, {PerStep:P3} changed per step",
            m.RunId, s.Strategy, record.Version, s.TrainSeconds, s.Device, s.SelectedFraction, s.UpdatedFractionPerStep);
        await context.Publish(new CandidateTrained
        {
            RunId = m.RunId, ModelId = m.ModelId, BaseVersion = m.BaseVersion, CandidateVersion = record.Version,
            ArtifactUri = record.ArtifactUri, Sha256 = record.Sha256, Strategy = s.Strategy,
            SelectedFraction = s.SelectedFraction, UpdatedFractionPerStep = s.UpdatedFractionPerStep, Steps = s.Steps,
            TrainSeconds = s.TrainSeconds, Device = s.Device, AdaptationSetId = m.AdaptationSetId, ShiftedHoldout = m.ShiftedHoldout,
        }, ct);
    }

    /// <summary>Work done again after the candidate was registered: announce that one rather than register a second.</summary>
    private async Task AnnounceRegisteredAsync(ConsumeContext context, TrainCandidate m, ModelVersionRecord registered, TuningServiceOptions o, CancellationToken ct)
    {
        logger.LogWarning("Run {RunId} already registered v{Version}; announcing it", m.RunId, registered.Version);
        var meta = VersionMetadata.Parse(registered.MetadataJson);
        await context.Publish(new CandidateTrained
        {
            RunId = m.RunId, ModelId = m.ModelId, BaseVersion = m.BaseVersion, CandidateVersion = registered.Version,
            ArtifactUri = registered.ArtifactUri, Sha256 = registered.Sha256, Strategy = meta.Strategy ?? o.Strategy,
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
