using Pipeline.Adaptation;
using Pipeline.Contracts;
using Pipeline.Hosting;
using Pipeline.Hosting.Artifacts;
using Pipeline.ML.Data;
using Pipeline.ML.Models;
using Pipeline.Storage.Artifacts;
using Pipeline.Storage.Repositories;

namespace Pipeline.Deployment;

/// <summary>
/// Checks a model and its reference rows and stores them as the model's next version. Reference rows are split,
/// after a seeded shuffle, into three disjoint thirds: the drift reference, the replay set mixed into adaptation
/// sets, and the gate's holdout of the original distribution (unless the sender gives the last two explicitly).
/// </summary>
public sealed class ModelRegistration(IArtifactStore artifacts, ModelArtifacts models, DatasetArtifacts datasets)
{
    /// <summary>Fewest reference rows accepted: each third must leave the gate and the drift monitor something to measure.</summary>
    public const int MinReferenceRows = 60;

    /// <exception cref="CommandRejectedException">The model, manifest or rows cannot be registered; nothing is stored.</exception>
    public async Task<ModelVersionRecord> RegisterAsync(RegisterModel m, string by, CancellationToken ct)
    {
        ModelManifest? manifest = null;
        if (m.Manifest is not null)
        {
            manifest = Refuse(() => ModelManifest.Parse(m.Manifest));
        }

        var path = await Verified(() => artifacts.GetVerifiedLocalPathAsync(m.ModelFile.Uri, m.ModelFile.Sha256, ct));
        using var model = Refuse(() => ModelBundle.Open(path, manifest, TorchSharp.torch.CPU));
        var reference = await Verified(() => datasets.LoadAsync(m.ReferenceData, ct));
        CheckRows("reference data", reference, model);

        PayloadRef drift, replay, holdout;
        if (m.GateHoldout is not null || m.ReplaySet is not null)
        {
            if (m.GateHoldout is null || m.ReplaySet is null)
            {
                throw new CommandRejectedException("a gate holdout and a replay set are given together or not at all");
            }

            CheckRows("gate holdout", await Verified(() => datasets.LoadAsync(m.GateHoldout, ct)), model);
            CheckRows("replay set", await Verified(() => datasets.LoadAsync(m.ReplaySet, ct)), model);
            (drift, replay, holdout) = (m.ReferenceData, m.ReplaySet, m.GateHoldout);
        }
        else
        {
            var (d, r, h) = Thirds(reference, seed: 17);
            drift = await datasets.SaveAsync(d, "datasets", $"{m.ModelId}/registered/{Guid.NewGuid():N}/drift-reference.pfb", ct);
            replay = await datasets.SaveAsync(r, "datasets", $"{m.ModelId}/registered/{Guid.NewGuid():N}/replay.pfb", ct);
            holdout = await datasets.SaveAsync(h, "datasets", $"{m.ModelId}/registered/{Guid.NewGuid():N}/gate-holdout.pfb", ct);
        }

        var metadata = new VersionMetadata { DriftReference = drift, ReplaySet = replay, ReferenceHoldout = holdout };
        return await models.RegisterAsync(m.ModelId, model, by, metadata, version: null, ct);
    }

    /// <summary>Every row must fit the model's input: its width, its scale, a label among its classes.</summary>
    private static void CheckRows(string what, FeatureBlob rows, ModelBundle model)
    {
        var shape = $"[{string.Join(", ", model.Info.InputShape)}]";
        if (rows.Labels is null)
        {
            throw new CommandRejectedException($"the {what} has no labels; registration needs labelled rows");
        }

        if (rows.Columns != model.InputLength)
        {
            throw new CommandRejectedException($"the {what} has {rows.Columns} values per row; the model's input shape {shape} needs {model.InputLength}");
        }

        if (rows.Rows < MinReferenceRows)
        {
            throw new CommandRejectedException($"the {what} has {rows.Rows} rows; at least {MinReferenceRows} are needed");
        }

        var classes = model.Info.Classes.Length;
        for (var i = 0; i < rows.Rows; i++)
        {
            if (rows.Labels[i] < 0 || rows.Labels[i] >= classes)
            {
                throw new CommandRejectedException($"the {what}'s row {i} has label {rows.Labels[i]}; the model has classes 0..{classes - 1}");
            }
        }

        for (var i = 0; i < rows.Features.Length; i++)
        {
            var v = rows.Features[i];
            if (!float.IsFinite(v) || (model.UnitScale && (v < 0f || v > 1f)))
            {
                throw new CommandRejectedException(
                    $"the {what}'s row {i / rows.Columns} has value {v} at {i % rows.Columns}; the manifest's input_scale \"{model.Info.InputScale}\" needs finite values{(model.UnitScale ? " in [0, 1]" : "")}");
            }
        }
    }

    private static (FeatureBlob Drift, FeatureBlob Replay, FeatureBlob Holdout) Thirds(FeatureBlob rows, int seed)
    {
        var order = Enumerable.Range(0, rows.Rows).ToArray();
        new Random(seed).Shuffle(order);
        var features = new float[rows.Features.Length];
        var labels = new int[rows.Rows];
        for (var i = 0; i < order.Length; i++)
        {
            rows.Row(order[i]).CopyTo(features.AsSpan(i * rows.Columns));
            labels[i] = rows.Labels![order[i]];
        }

        var shuffled = new FeatureBlob(rows.Rows, rows.Columns, features, labels);
        var (drift, rest) = shuffled.Split(rows.Rows / 3);
        var (replay, holdout) = rest.Split(rows.Rows / 3);
        return (drift, replay, holdout);
    }

    private static T Refuse<T>(Func<T> action)
    {
        try
        {
            return action();
        }
        catch (ModelValidationException ex)
        {
            throw new CommandRejectedException("model refused: " + ex.Message);
        }
    }

    private static async Task<T> Verified<T>(Func<Task<T>> read)
    {
        try
        {
            return await read();
        }
        catch (Exception ex) when (ex is ArtifactStoreException or InvalidDataException)
        {
            throw new CommandRejectedException("cannot read an uploaded file: " + ex.Message);
        }
    }
}
