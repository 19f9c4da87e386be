using Pipeline.ML.Data;
using Pipeline.ML.Models;
using Pipeline.Storage.Artifacts;
using Pipeline.Storage.Repositories;
using TorchSharp;

namespace Pipeline.Artifacts;

/// <summary>
/// The first job's costs outside libtorch's start, paid at start instead, for the workers that run
/// libtorch: a model as a job loads it, and a feature blob and a model file through the artifact store and back
/// (scratch names of kind <see cref="Kind"/>, deleted after). The contracts and the run and registry reads are
/// <see cref="AdaptationRuns.StartWarmUp"/>'s. Nothing here writes a row or leaves an artifact behind; a worker's
/// warm-up (<see cref="LibtorchWarmUp"/>) adds its own library call on a small synthetic input.
/// </summary>
public static class WorkerWarmUp
{
    /// <summary>The artifact kind of the scratch files (deleted before the warm-up ends).</summary>
    public const string Kind = "warm-up";

    /// <summary>
    /// A model to warm the worker's library call with: the first production model the registry serves (loaded as a job
    /// loads it), else the built-in CNN; and <paramref name="rows"/> random labelled rows of its input shape.
    /// </summary>
    private static async Task<(ModelBundle Model, ImageDataset Data)> ModelAsync(
        IModelRegistry registry, ModelArtifacts models, string device, int rows, int seed, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(models);
        ModelBundle? model = null;
        foreach (var registered in (await registry.ListModelsAsync(ct)).Take(5))
        {
            if (await registry.GetProductionAsync(registered.ModelId, ct) is { } production)
            {
                try
                {
                    (model, _) = await models.LoadAsync(production.ModelId, production.Version, device, ct);
                    break;
                }
                catch (Exception ex) when (ArtifactFailures.IsKnown(ex))
                {
                    // A production file that cannot be read fails the job that needs it, not the worker's start.
                }
            }
        }

        model ??= ModelBundle.Create("cnn-small", seed).To(ComputeDevice.Resolve(device));
        model.Model.SetTraining(false);
        using var generator = new torch.Generator((ulong)seed);
        var images = torch.rand([rows, .. model.Info.InputShape.Select(d => (long)d)], generator: generator);
        var labels = torch.randint(0, model.Info.Classes.Length, [rows], generator: generator);
        return (model, new ImageDataset(images, labels));
    }

    /// <summary>
    /// <see cref="ModelAsync"/>, then <see cref="WarmArtifactsAsync"/> with its model and rows: what a job works on, after
    /// the artifact round trip a job makes. The caller disposes both.
    /// </summary>
    public static async Task<(ModelBundle Model, ImageDataset Data)> LoadedAsync(
        IModelRegistry registry, ModelArtifacts models, IArtifactStore store, string device, int rows, int seed, CancellationToken ct)
    {
        var (model, data) = await ModelAsync(registry, models, device, rows, seed, ct);
        try
        {
            await WarmArtifactsAsync(store, model, data, ct);
            return (model, data);
        }
        catch
        {
            model.Dispose();
            data.Dispose();
            throw;
        }
    }

    /// <summary>A labelled feature blob and a model file written to the artifact store, read back verified, and deleted.</summary>
    private static async Task WarmArtifactsAsync(IArtifactStore store, ModelBundle model, ImageDataset data, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        var name = $"{Environment.ProcessId}-{Guid.NewGuid():N}";
        var datasets = new DatasetArtifacts(store);
        var blob = await datasets.SaveAsync(DatasetArtifacts.FromDataset(data), Kind, name + ".pfb", ct);
        try
        {
            using var back = DatasetArtifacts.ToDataset(await datasets.LoadAsync(blob, ct), data.InputShape);
        }
        finally
        {
            store.Delete(blob.Uri);
        }

        var file = await store.PutWrittenAsync(model.Save, Kind, name + ".model", ct);
        try
        {
            using var loaded = ModelBundle.Load(await store.GetVerifiedLocalPathAsync(file.Uri, file.Sha256, ct), model.Device);
        }
        finally
        {
            store.Delete(file.Uri);
        }
    }
}
