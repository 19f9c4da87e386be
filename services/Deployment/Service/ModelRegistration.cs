using System.Globalization;
using Microsoft.Extensions.Options;
using Pipeline.Artifacts;
using Pipeline.Contracts;
using Pipeline.Hosting;
using Pipeline.ML.Data;
using Pipeline.ML.Evaluation;
using Pipeline.ML.Models;
using Pipeline.Storage.Artifacts;
using Pipeline.Storage.Repositories;

namespace Pipeline.Deployment;

/// <summary>
/// Checks a model and its reference rows and stores them as the model's next version. Reference rows are split,
/// after a seeded shuffle, into three disjoint thirds: the drift reference, the replay set mixed into adaptation
/// sets, and the gate's holdout of the original distribution (unless the sender gives the last two explicitly).
/// </summary>
public sealed class ModelRegistration(IArtifactStore artifacts, ModelArtifacts models, DatasetArtifacts datasets, IModelRegistry registry, IOptions<RegistrationGateOptions> gate)
{
    /// <summary>A registered version, and what the operator allowed despite a shortcoming (null when nothing).</summary>
    public sealed record Registered(ModelVersionRecord Record, string? Warning);

    /// <summary>Fewest reference rows accepted: each third must leave the gate and the drift monitor something to measure.</summary>
    public const int MinReferenceRows = 60;

    /// <exception cref="CommandRejectedException">The model, manifest or rows cannot be registered; nothing is stored.</exception>
    public async Task<Registered> RegisterAsync(RegisterModel m, string by, string? key, CancellationToken ct)
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
        string? warning;
        if (m.GateHoldout is not null || m.ReplaySet is not null)
        {
            if (m.GateHoldout is null || m.ReplaySet is null)
            {
                throw new CommandRejectedException("a gate holdout and a replay set are given together or not at all");
            }

            var holdoutRows = await Verified(() => datasets.LoadAsync(m.GateHoldout, ct));
            var replayRows = await Verified(() => datasets.LoadAsync(m.ReplaySet, ct));
            CheckRows("gate holdout", holdoutRows, model);
            CheckRows("replay set", replayRows, model);
            warning = PreFlight(m, holdoutRows.Rows, replayRows.Rows, explicitSets: true);
            (drift, replay, holdout) = (m.ReferenceData, m.ReplaySet, m.GateHoldout);
        }
        else
        {
            var third = reference.Rows / 3;
            warning = PreFlight(m, reference.Rows - (2 * third), third, explicitSets: false, reference.Rows);
            var (d, r, h) = Thirds(reference, seed: 17);
            drift = await datasets.SaveAsync(d, "datasets", $"{m.ModelId}/registered/{Guid.NewGuid():N}/drift-reference.pfb", ct);
            replay = await datasets.SaveAsync(r, "datasets", $"{m.ModelId}/registered/{Guid.NewGuid():N}/replay.pfb", ct);
            holdout = await datasets.SaveAsync(h, "datasets", $"{m.ModelId}/registered/{Guid.NewGuid():N}/gate-holdout.pfb", ct);
        }

        var metadata = new VersionMetadata { DriftReference = drift, ReplaySet = replay, ReferenceHoldout = holdout, RegistrationKey = key };
        return new Registered(await models.RegisterAsync(m.ModelId, model, by, metadata, version: null, ct), warning);
    }

    /// <summary>The version an earlier delivery of the same registration (same key) stored, if any.</summary>
    public async Task<ModelVersionRecord?> FindAsync(string modelId, string key, CancellationToken ct) =>
        (await registry.ListVersionsAsync(modelId, ct)).LastOrDefault(v => VersionMetadata.Parse(v.MetadataJson).RegistrationKey == key);

    /// <summary>
    /// The gate's original holdout and the replay set must each hold the rows the gate needs to decide at
    /// its precision (Gate:Precision, Gate:ExpectedDiscordance, Gate:Confidence), or the first run fails in its last
    /// stage. Refused, or accepted with a warning when the operator allows it (AllowSmallReference).
    /// </summary>
    private string? PreFlight(RegisterModel m, int holdoutRows, int replayRows, bool explicitSets, int referenceRows = 0)
    {
        var o = gate.Value;
        var needed = PairedComparison.RequiredRows(o.Precision, o.ExpectedDiscordance, o.Confidence);
        if (holdoutRows >= needed && replayRows >= needed)
        {
            return null;
        }

        var precision = string.Create(CultureInfo.InvariantCulture, $"±{o.Precision * 100:0.#} pts at {o.Confidence:P0} (Gate:Precision, Gate:ExpectedDiscordance)");
        var problem = explicitSets
            ? string.Create(CultureInfo.InvariantCulture,
                $"the gate holdout has {holdoutRows} rows and the replay set {replayRows}; the gate needs {needed} rows each to decide at {precision}")
            : string.Create(CultureInfo.InvariantCulture,
                $"the reference data has {referenceRows} rows, a third of them ({holdoutRows}) for the gate's holdout and a third ({replayRows}) for the replay set; " +
                $"the gate needs {needed} rows each to decide at {precision}: give at least {3 * needed} rows");
        if (!m.AllowSmallReference)
        {
            throw new CommandRejectedException(problem + " (or register anyway with --allow-small-reference)");
        }

        return problem + "; registered anyway (allow-small-reference): runs of this version will fail in evaluation until it has more reference rows";
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
        var shuffled = RegimeSets.Shuffled(rows, seed);
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
