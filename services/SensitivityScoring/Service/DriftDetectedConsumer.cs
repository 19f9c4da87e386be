using System.Text.Json;
using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pipeline.Adaptation;
using Pipeline.Contracts;
using Pipeline.Hosting;
using Pipeline.ML.Sensitivity;
using Pipeline.Storage.Artifacts;
using Pipeline.Storage.Repositories;

namespace Pipeline.SensitivityScoring;

/// <summary>
/// DriftDetected → adaptation set from recent labelled production rows → MI-Fisher sensitivity
/// mask in the artifact store → SensitivityScored.
/// </summary>
public sealed class DriftDetectedConsumer(
    IAdaptationRunRepository runs, ISensitivityMaskRepository masks, IArtifactStore artifacts,
    AdaptationSetBuilder builder, ModelArtifacts models, DatasetArtifacts datasets,
    IOptions<ScoringServiceOptions> options, ILogger<DriftDetectedConsumer> logger)
    : IConsumer<DriftDetected>
{
    private const string Stage = "score";

    public async Task Consume(ConsumeContext<DriftDetected> context)
    {
        var m = context.Message;
        var ct = context.CancellationToken;
        var o = options.Value;

        if (!await ClaimAsync(context, m, ct))
        {
            return;
        }

        var (rows, available) = await builder.WaitForLabelsAsync(m.ModelId, m.ModelVersion, m.DriftStartedAt, ct);
        if (rows is null)
        {
            await RunFailures.FailAsync(runs, context, logger, m.RunId, m.ModelId, Stage,
                $"not enough labelled rows: {available} of {o.MinLabelledRows} after waiting {o.LabelWaitTimeout}", ct);
            return;
        }

        try
        {
            var (shifted, holdout) = AdaptationSetBuilder.Split(rows, o.HoldoutFraction, o.Seed);
            var (model, baseRecord) = await models.LoadAsync(m.ModelId, m.ModelVersion, o.Device, ct);
            using var baseModel = model;
            var replay = VersionMetadata.Parse(baseRecord.MetadataJson).ReplaySet;
            var adaptation = replay is null || o.ReplayFraction <= 0
                ? shifted
                : AdaptationSetBuilder.WithReplay(shifted, await datasets.LoadAsync(replay, ct), o.ReplayFraction, o.Seed);
            var setId = Guid.NewGuid();
            var adaptationRef = await datasets.SaveAsync(adaptation, "datasets", $"{m.ModelId}/{m.RunId}/adaptation.pfb", ct);
            var holdoutRef = await datasets.SaveAsync(holdout, "datasets", $"{m.ModelId}/{m.RunId}/holdout.pfb", ct);

            using var data = DatasetArtifacts.ToDataset(adaptation, model.Info.InputShape);
            using var mask = SensitivityScorer.Score(baseModel, data,
                new ScoringOptions { SelectRate = o.SelectRate, Seed = o.Seed, Device = o.Device }, cancellationToken: ct);

            var temp = Path.Combine(Path.GetTempPath(), $"pipeline-mask-{Guid.NewGuid():N}.bin");
            ArtifactRef stored;
            try
            {
                mask.Save(temp);
                await using var file = File.OpenRead(temp);
                stored = await artifacts.PutAsync(file, "masks", $"{m.ModelId}/{m.RunId}/mask.bin", ct);
            }
            finally
            {
                File.Delete(temp);
            }

            var coverage = mask.Coverage.Select(c => new Contracts.LayerCoverage { Layer = c.Name, Total = c.Total, Selected = c.Selected }).ToList();
            await masks.UpsertAsync(new Storage.Repositories.SensitivityMask
            {
                RunId = m.RunId, MaskUri = stored.Uri, Sha256 = stored.Sha256, SelectedFraction = mask.SelectedFraction,
                CoverageJson = JsonSerializer.Serialize(coverage), AdaptationSetId = setId.ToString(),
            }, ct);

            logger.LogInformation(
                "Run {RunId}: scored {Rows} rows ({Shifted} shifted, {Replay} replayed; {Holdout} shifted rows held out); mask selects {Fraction:P2} of parameters",
                m.RunId, adaptation.Rows, shifted.Rows, adaptation.Rows - shifted.Rows, holdout.Rows, mask.SelectedFraction);
            await context.Publish(new SensitivityScored
            {
                RunId = m.RunId, ModelId = m.ModelId, ModelVersion = m.ModelVersion, MaskUri = stored.Uri, Sha256 = stored.Sha256,
                SelectedFraction = mask.SelectedFraction, Coverage = coverage, AdaptationSetId = setId,
                AdaptationSet = adaptationRef, ShiftedHoldout = holdoutRef,
            }, ct);
        }
        catch (Exception ex) when (ex is ModelNotFoundException or ArtifactStoreException or InvalidDataException)
        {
            await RunFailures.FailAsync(runs, context, logger, m.RunId, m.ModelId, Stage, ex.Message, ct);
        }
    }

    /// <summary>
    /// A DriftDetected for a run nobody recorded (published by another tool) starts it, unless the
    /// model already has an active run; then the run moves from Detected to Scoring. A duplicate
    /// finds the run past Detected and is dropped; a retry of this consumer continues.
    /// </summary>
    private async Task<bool> ClaimAsync(ConsumeContext context, DriftDetected m, CancellationToken ct)
    {
        if (await runs.GetAsync(m.RunId, ct) is null && !await runs.TryStartRunAsync(new NewAdaptationRun
            {
                RunId = m.RunId, ModelId = m.ModelId, BaseVersion = m.ModelVersion, Detail = $"drift window {m.WindowId} ({m.Severity})",
            }, ct))
        {
            logger.LogInformation("DriftDetected {RunId} ignored: {ModelId} already has an active run", m.RunId, m.ModelId);
            return false;
        }

        return await RunStages.ClaimAsync(runs, context, logger, m.RunId, m.ModelId, RunState.Detected, RunState.Scoring,
            null, "scoring sensitivity", ct) is not null;
    }
}
