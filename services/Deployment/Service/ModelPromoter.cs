using Pipeline.Storage.Artifacts;
using Pipeline.Storage.Repositories;

namespace Pipeline.Deployment;

/// <summary>Moves a model's production alias to a version whose artifact verifies against the registry.</summary>
public sealed class ModelPromoter(IModelRegistry registry, IArtifactStore artifacts, IDeploymentRepository deployments)
{
    public sealed record Promotion(ModelVersionRecord Version, int? PreviousVersion);

    /// <exception cref="CannotPromoteException">the version is unknown or its artifact fails verification.</exception>
    public async Task<Promotion> PromoteAsync(
        string modelId, int version, DeploymentKind kind, string by, string reason, Guid? runId, CancellationToken ct)
    {
        var record = await registry.GetVersionAsync(modelId, version, ct)
            ?? throw new CannotPromoteException($"{modelId} v{version} is not registered");
        try
        {
            // Refuse an artifact whose SHA-256 does not match the registry (tampered or truncated).
            await artifacts.GetVerifiedLocalPathAsync(record.ArtifactUri, record.Sha256, ct);
        }
        catch (ArtifactStoreException ex)
        {
            throw new CannotPromoteException($"{modelId} v{version}: {ex.Message}");
        }

        var previous = (await registry.GetProductionAsync(modelId, ct))?.Version;
        if (!await registry.TrySetProductionAsync(modelId, previous, version, by, reason, ct))
        {
            throw new InvalidOperationException($"production alias of {modelId} changed concurrently; retrying");
        }

        await deployments.AddAsync(new DeploymentRecord
        {
            ModelId = modelId, Version = version, PreviousVersion = previous, Kind = kind,
            DeployedBy = by, Reason = reason, RunId = runId,
        }, ct);
        return new Promotion(record, previous);
    }
}

public sealed class CannotPromoteException(string message) : Exception(message);
