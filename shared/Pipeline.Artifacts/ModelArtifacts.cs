using Microsoft.Extensions.Logging;
using Pipeline.ML.Models;
using Pipeline.Storage.Artifacts;
using Pipeline.Storage.Repositories;

namespace Pipeline.Artifacts;

/// <summary>Loads registered model versions (verifying SHA-256) and registers new ones.</summary>
public sealed class ModelArtifacts(IModelRegistry registry, IArtifactStore artifacts, ILogger<ModelArtifacts> logger)
{
    public async Task<ModelVersionRecord> GetVersionAsync(string modelId, int version, CancellationToken ct) =>
        await registry.GetVersionAsync(modelId, version, ct)
        ?? throw new ModelNotFoundException($"{modelId} v{version} is not registered");

    /// <summary>Loads a version's weights after checking them against the registry's SHA-256.</summary>
    public async Task<(ModelBundle Model, ModelVersionRecord Record)> LoadAsync(string modelId, int version, string device, CancellationToken ct)
    {
        var record = await GetVersionAsync(modelId, version, ct);
        var path = await artifacts.GetVerifiedLocalPathAsync(record.ArtifactUri, record.Sha256, ct);
        var model = ModelBundle.Load(path, ComputeDevice.Resolve(device));
        return (model, record);
    }

    /// <summary>The version a run already registered, if any (a retried tuner reuses it instead of registering another).</summary>
    public async Task<ModelVersionRecord?> FindByRunAsync(string modelId, Guid runId, CancellationToken ct) =>
        (await registry.ListVersionsAsync(modelId, ct)).LastOrDefault(v => VersionMetadata.Parse(v.MetadataJson).RunId == runId);

    /// <summary>The version a run registered for one strategy (a tournament registers one per candidate).</summary>
    public async Task<ModelVersionRecord?> FindByRunAsync(string modelId, Guid runId, string strategy, CancellationToken ct) =>
        (await registry.ListVersionsAsync(modelId, ct)).LastOrDefault(v =>
            VersionMetadata.Parse(v.MetadataJson) is { } meta && meta.RunId == runId && meta.Strategy == strategy);

    /// <summary>Writes the weights to the artifact store and registers them as the next version.</summary>
    public async Task<ModelVersionRecord> RegisterAsync(
        string modelId, ModelBundle model, string createdBy, VersionMetadata metadata, int? version, CancellationToken ct)
    {
        var number = version ?? ((await registry.GetLatestVersionNumberAsync(modelId, ct)) ?? 0) + 1;
        var stored = await artifacts.PutWrittenAsync(model.Save, "models", $"{modelId}/v{number}/model.bin", ct);

        var record = new ModelVersionRecord
        {
            ModelId = modelId, Version = number, ArtifactUri = stored.Uri, Sha256 = stored.Sha256,
            Architecture = model.Info.Architecture, InputShape = model.Info.InputShape, Classes = model.Info.Classes,
            ParamsTotal = model.Info.ParamsTotal, CreatedBy = createdBy, MetadataJson = metadata.ToJson(),
        };

        // The version row is written last and in one statement: a crash before it leaves only an
        // unreferenced file, never a half-registered version.
        if (!await registry.RegisterVersionAsync(record, ct))
        {
            throw new InvalidOperationException($"{modelId} v{number} was registered concurrently");
        }

        logger.LogInformation("Registered {ModelId} v{Version} ({Architecture}, {Params} parameters, sha256 {Sha})",
            modelId, number, record.Architecture, record.ParamsTotal, stored.Sha256[..12]);
        return record;
    }
}

public sealed class ModelNotFoundException(string message) : Exception(message);
