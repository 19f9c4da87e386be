using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Pipeline.Artifacts;
using Pipeline.ML.Data;
using Pipeline.ML.Models;
using Pipeline.ML.Training;
using Pipeline.Storage.Artifacts;
using Pipeline.Storage.Repositories;

namespace Pipeline.Integration.Tests;

/// <summary>
/// Small synthetic 28×28 images: ten class templates plus noise. "Shifted" images are the
/// inverted ones, a drift no monitor can miss; the point here is the messaging, not the science.
/// </summary>
public static class Synthetic
{
    private static readonly float[][] Templates = MakeTemplates();

    private static float[][] MakeTemplates()
    {
        var rng = new Random(1234);
        return Enumerable.Range(0, 10).Select(_ => Enumerable.Range(0, FashionMnist.ImageLength).Select(_ => rng.NextSingle()).ToArray()).ToArray();
    }

    public static FeatureBlob Rows(int n, int seed, bool shifted)
    {
        var rng = new Random(seed);
        var features = new float[n * FashionMnist.ImageLength];
        var labels = new int[n];
        for (var i = 0; i < n; i++)
        {
            var c = rng.Next(10);
            labels[i] = c;
            for (var j = 0; j < FashionMnist.ImageLength; j++)
            {
                var v = Math.Clamp((0.8f * Templates[c][j]) + (0.2f * rng.NextSingle()), 0f, 1f);
                features[(i * FashionMnist.ImageLength) + j] = shifted ? 1f - v : v;
            }
        }

        return new FeatureBlob(n, FashionMnist.ImageLength, features, labels);
    }
}

public static class Seed
{
    private static ModelArtifacts Models(IServiceProvider services) =>
        new(services.GetRequiredService<IModelRegistry>(), services.GetRequiredService<IArtifactStore>(), NullLogger<ModelArtifacts>.Instance);

    /// <summary>A small MLP trained on the unshifted synthetic images, registered as v1 and put in production.</summary>
    public static async Task<ModelVersionRecord> BaseModelAsync(IServiceProvider services, string modelId)
    {
        var datasets = new DatasetArtifacts(services.GetRequiredService<IArtifactStore>());
        using var train = DatasetArtifacts.ToDataset(Synthetic.Rows(600, seed: 1, shifted: false), FashionMnist.InputShape);
        using var model = BaseTrainer.Train(train, new BaseTrainingOptions { Architecture = "mlp", Epochs = 2, BatchSize = 64, Seed = 1, Device = "cpu" });
        var holdout = await datasets.SaveAsync(Synthetic.Rows(200, seed: 2, shifted: false), "datasets", $"{modelId}/holdout.pfb", CancellationToken.None);
        var reference = await datasets.SaveAsync(Synthetic.Rows(300, seed: 3, shifted: false), "datasets", $"{modelId}/reference.pfb", CancellationToken.None);
        var replay = await datasets.SaveAsync(Synthetic.Rows(200, seed: 4, shifted: false), "datasets", $"{modelId}/replay.pfb", CancellationToken.None);
        var record = await Models(services).RegisterAsync(modelId, model, "test",
            new VersionMetadata { ReferenceHoldout = holdout, DriftReference = reference, ReplaySet = replay }, version: 1, CancellationToken.None);
        await services.GetRequiredService<IModelRegistry>().SetProductionAsync(modelId, 1, "test", "base");
        return record;
    }

    /// <summary>A registered version that never went to production.</summary>
    public static async Task ExtraVersionAsync(IServiceProvider services, string modelId, int version)
    {
        using var model = ModelBundle.Create("mlp", seed: version);
        await Models(services).RegisterAsync(modelId, model, "test", new VersionMetadata(), version, CancellationToken.None);
    }

    /// <summary>v1 then v2 in production (history v1 → v2), untrained small models.</summary>
    public static async Task TwoProductionVersionsAsync(IServiceProvider services, string modelId)
    {
        var registry = services.GetRequiredService<IModelRegistry>();
        foreach (var version in new[] { 1, 2 })
        {
            using var model = ModelBundle.Create("mlp", seed: version);
            await Models(services).RegisterAsync(modelId, model, "test", new VersionMetadata(), version, CancellationToken.None);
            await registry.SetProductionAsync(modelId, version, "test", $"v{version}");
        }
    }
}
