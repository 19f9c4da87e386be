using System.Text.Json;
using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pipeline.Artifacts;
using Pipeline.AdaptationRuns;
using Pipeline.Contracts;
using Pipeline.Hosting;
using Pipeline.ML.Sensitivity;
using Pipeline.Storage.Artifacts;
using Pipeline.Storage.Repositories;

namespace Pipeline.SensitivityScoring;

/// <summary>
/// ScoreSensitivity → adaptation set from recent labelled production rows → MI-Fisher sensitivity
/// mask in the artifact store → SensitivityScored. Doing it twice writes the same artifacts again.
/// </summary>
public sealed class ScoreSensitivityConsumer(
    StageWork stage, ISensitivityMaskRepository masks, IArtifactStore artifacts,
    AdaptationSetBuilder builder, ModelArtifacts models, DatasetArtifacts datasets,
    IOptions<ScoringServiceOptions> options, ILogger<ScoreSensitivityConsumer> logger)
    : IConsumer<ScoreSensitivity>
{
    public Task Consume(ConsumeContext<ScoreSensitivity> context) =>
        stage.DoAsync(context, context.Message, RunStage.Score, context.Message.Attempt, () => ScoreAsync(context, context.Message), ArtifactFailures.IsKnown);

    private async Task ScoreAsync(ConsumeContext context, ScoreSensitivity m)
    {
        var ct = context.CancellationToken;
        var o = options.Value;
        var (rows, available) = await builder.WaitForLabelsAsync(m.ModelId, m.BaseVersion, m.DriftStartedAt, ct);
        if (rows is null)
        {
            await stage.FailAsync(context, m, RunStage.Score,
                $"not enough labelled rows: {available} of {o.MinLabelledRows} after waiting {o.LabelWaitTimeout}");
            return;
        }

        var (shifted, holdout) = AdaptationSetBuilder.Split(rows, o.HoldoutFraction, o.Seed);
        var (model, baseRecord) = await models.LoadAsync(m.ModelId, m.BaseVersion, o.Device, ct);
        using var baseModel = model;
        var replay = VersionMetadata.Parse(baseRecord.MetadataJson).ReplaySet;
        var adaptation = replay is null || o.ReplayFraction <= 0
            ? shifted
            : AdaptationSetBuilder.WithReplay(shifted, await datasets.LoadAsync(replay, ct), o.ReplayFraction, o.Seed, o.ClassBalancedReplay);
        var setId = Guid.NewGuid();
        var adaptationRef = await datasets.SaveAsync(adaptation, "datasets", $"{m.ModelId}/{m.RunId}/adaptation.pfb", ct);
        var holdoutRef = await datasets.SaveAsync(holdout, "datasets", $"{m.ModelId}/{m.RunId}/holdout.pfb", ct);

        using var data = DatasetArtifacts.ToDataset(adaptation, model.Info.InputShape);
        using var mask = ComputeClock.Time(() => SensitivityScorer.Score(baseModel, data,
            new ScoringOptions { SelectRate = o.SelectRate, Seed = o.Seed, Device = o.Device }, cancellationToken: ct));

        var stored = await artifacts.PutWrittenAsync(mask.Save, "masks", $"{m.ModelId}/{m.RunId}/mask.bin", ct);

        var coverage = mask.Coverage.Select(c => new Contracts.LayerCoverage { Layer = c.Name, Total = c.Total, Selected = c.Selected }).ToList();
        await masks.UpsertAsync(new Storage.Repositories.SensitivityMaskRecord
        {
            RunId = m.RunId, MaskUri = stored.Uri, Sha256 = stored.Sha256, SelectedFraction = mask.SelectedFraction,
            CoverageJson = JsonSerializer.Serialize(coverage), AdaptationSetId = setId.ToString(),
        }, ct);

        logger.LogInformation(
            "Run {RunId}: scored {Rows} rows ({Shifted} shifted, {Replay} replayed; {Holdout} shifted rows held out); mask selects {Fraction:P2} of parameters",
            m.RunId, adaptation.Rows, shifted.Rows, adaptation.Rows - shifted.Rows, holdout.Rows, mask.SelectedFraction);
        await context.Publish(new SensitivityScored
        {
            RunId = m.RunId, ModelId = m.ModelId, ModelVersion = m.BaseVersion, MaskUri = stored.Uri, Sha256 = stored.Sha256,
            SelectedFraction = mask.SelectedFraction, Coverage = coverage, AdaptationSetId = setId,
            AdaptationSet = adaptationRef, ShiftedHoldout = holdoutRef, LabelledRows = shifted.Rows,
        }, ct);
    }
}

