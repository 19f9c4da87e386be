using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pipeline.Artifacts;
using Pipeline.Drift.Monitoring;
using Pipeline.ML.Models;
using Pipeline.Storage.Artifacts;
using Pipeline.Storage.Repositories;

namespace Pipeline.DriftDetection;

/// <summary>
/// The drift reference profile of each model version: loaded from the artifact store, or built once from
/// the version's drift reference rows (with its confidence calibration) and stored for every replica.
/// </summary>
public sealed class ReferenceProfileStore(
    IDriftRepository drift, IArtifactStore artifacts, ModelArtifacts models, DatasetArtifacts datasets, IOptions<DriftDetectionOptions> options,
    TimeProvider time, ILogger<ReferenceProfileStore> logger)
{
    /// <summary>Loads the stored profile of a version, or builds it from the version's drift reference rows.</summary>
    public async Task<ReferenceProfile> EnsureProfileAsync(string modelId, int version, CancellationToken ct)
    {
        var stored = await drift.GetReferenceProfileAsync(modelId, version, ct);
        if (stored is not null)
        {
            var json = System.Text.Encoding.UTF8.GetString(await artifacts.ReadAllBytesVerifiedAsync(stored.ProfileUri, stored.Sha256, ct));
            return ReferenceProfile.FromJson(json);
        }

        var record = await models.GetVersionAsync(modelId, version, ct);
        var metadata = VersionMetadata.Parse(record.MetadataJson);
        var source = metadata.DriftReference ?? metadata.ReferenceHoldout
            ?? throw new InvalidDataException($"{modelId} v{version} names no drift reference data in its metadata");
        var rows = await datasets.LoadAsync(source, ct);
        if (rows.Rows > options.Value.MaxReferenceRows)
        {
            rows = rows.Split(options.Value.MaxReferenceRows).Head;
        }

        var (model, _) = await models.LoadAsync(modelId, version, options.Value.Device, ct);
        using var bundle = model;
        var observations = ToObservations(rows, bundle, options.Value.UseEmbeddings);
        var profile = ReferenceProfile.Build(modelId, version, observations, ProfileOptionsFor(bundle.Info, options.Value.Seed), time.GetUtcNow());
        profile.Performance = await CalibrateAsync(modelId, version, metadata, bundle, profile.Summary, ct);

        var put = await artifacts.PutAsync(System.Text.Encoding.UTF8.GetBytes(profile.ToJson()), "profiles", $"{modelId}/v{version}/profile.json", ct);
        await drift.UpsertReferenceProfileAsync(new DriftReferenceProfile
        {
            ModelId = modelId, Version = version, ProfileUri = put.Uri, Sha256 = put.Sha256,
        }, ct);
        logger.LogInformation("Built the drift reference profile of {ModelId} v{Version} from {Rows} rows", modelId, version, rows.Rows);
        return profile;
    }

    /// <summary>
    /// Temperature scaling of the version's confidence on its labelled reference holdout, so that accuracy
    /// can be estimated on traffic without labels; null (drift alone then decides) when there is none.
    /// </summary>
    private async Task<Drift.Performance.ConfidenceCalibration?> CalibrateAsync(
        string modelId, int version, VersionMetadata metadata, ModelBundle model, InputSummary summary, CancellationToken ct)
    {
        if (metadata.ReferenceHoldout is null)
        {
            logger.LogWarning("{ModelId} v{Version} has no reference holdout: accuracy cannot be estimated, drift alone starts runs", modelId, version);
            return null;
        }

        var holdout = await datasets.LoadAsync(metadata.ReferenceHoldout, ct);
        if (holdout.Labels is null)
        {
            logger.LogWarning("The reference holdout of {ModelId} v{Version} has no labels: accuracy cannot be estimated", modelId, version);
            return null;
        }

        try
        {
            var calibration = Drift.Performance.ConfidenceCalibration.Fit(ToObservations(holdout, model, embeddings: false), summary);
            logger.LogInformation(
                "Calibrated {ModelId} v{Version} on {Rows} holdout rows: temperature {Temperature:F2}, accuracy {Accuracy:P1}, ECE {Before:F3} → {After:F3}",
                modelId, version, calibration.Rows, calibration.Temperature, calibration.ReferenceAccuracy, calibration.EceBefore, calibration.EceAfter);
            return calibration;
        }
        catch (Drift.DriftInputException ex)
        {
            logger.LogWarning("No calibration for {ModelId} v{Version}: {Reason}", modelId, version, ex.Message);
            return null;
        }
    }

    /// <summary>
    /// What the monitor tests for a model: one-channel images are pooled into a grid of mean intensities plus
    /// global statistics; every other input (tabular rows, multi-channel tensors) is tested column by column,
    /// with the manifest's categorical columns on chi-squared and the rest on KS/PSI/W1/JS.
    /// </summary>
    public static ProfileOptions ProfileOptionsFor(ML.Models.ModelInfo info, int seed)
    {
        var shape = info.InputShape;
        var width = ML.Data.Features.Length(shape);
        if (shape.Length == 3 && shape[0] == 1 && shape[1] >= 2 && shape[2] >= 2)
        {
            return new ProfileOptions { Summary = InputSummary.Image(shape[1], shape[2], Math.Min(7, Math.Min(shape[1], shape[2]))), Seed = seed };
        }

        var names = info.Features is { } f && f.Length == width ? f.Select(c => c.Name).ToList() : null;
        var categorical = info.Features is { } g && g.Length == width
            ? g.Select((c, i) => (c, i)).Where(x => x.c.Kind == FeatureSpec.Categorical).Select(x => x.i).ToHashSet()
            : [];
        return new ProfileOptions { Summary = InputSummary.RawColumns(width, names), CategoricalFeatures = categorical, Seed = seed };
    }

    /// <summary>
    /// Reference rows as monitor observations: predictions, confidences and (with <paramref name="embeddings"/>) the
    /// embeddings from one <see cref="ModelBundle.Serve(IReadOnlyList{float[]}, int)"/> pass, the function Inference
    /// serves production rows with, so reference and production embeddings share one definition.
    /// </summary>
    public static List<Observation> ToObservations(FeatureBlob rows, ModelBundle model, bool embeddings)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(model);
        var features = Rows(rows);
        Prediction[] predicted;
        float[][]? embedded = null;
        if (embeddings)
        {
            (predicted, embedded) = model.Serve(features);
        }
        else
        {
            predicted = model.Predict(features);
        }

        var list = new List<Observation>(rows.Rows);
        for (var i = 0; i < rows.Rows; i++)
        {
            var label = rows.Labels?[i];
            list.Add(new Observation(features[i], predicted[i].Class, predicted[i].Probabilities[predicted[i].Class], label is >= 0 ? label : null, embedded?[i]));
        }

        return list;
    }

    /// <summary>
    /// Production rows as monitor observations, from what Inference published: the model is never run here. A
    /// confidence not published is unknown (NaN: left out of the confidence statistics, and said so in the window);
    /// rows without an embedding are left out of the embedding MMD, and said so.
    /// </summary>
    public static List<Observation> ToObservations(FeatureBlob rows, FeatureBlob? embeddings,
        IReadOnlyList<int> predictions, IReadOnlyList<float>? confidences, IReadOnlyList<int>? labels)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(predictions);
        var features = Rows(rows);
        var list = new List<Observation>(rows.Rows);
        for (var i = 0; i < rows.Rows; i++)
        {
            var label = labels?[i] ?? rows.Labels?[i];
            list.Add(new Observation(
                features[i], predictions[i], confidences?[i] ?? float.NaN, label is >= 0 ? label : null, embeddings?.Row(i).ToArray()));
        }

        return list;
    }

    private static float[][] Rows(FeatureBlob rows)
    {
        var features = new float[rows.Rows][];
        for (var i = 0; i < rows.Rows; i++)
        {
            features[i] = rows.Row(i).ToArray();
        }

        return features;
    }
}
