using Pipeline.Storage.Artifacts;
using Pipeline.Storage.Repositories;

namespace Pipeline.Deployment;

/// <summary>Moves a model's production alias to a version whose artifact verifies against the registry.</summary>
public sealed class ModelPromoter(IModelRegistry registry, IArtifactStore artifacts, IDeploymentRepository deployments)
{
    public sealed record Promotion(ModelVersionRecord Version, int? PreviousVersion);

    /// <summary>Rollback: from whatever is in production now to <paramref name="version"/>.</summary>
    /// <exception cref="CannotPromoteException">the version is unknown or its artifact fails verification.</exception>
    public async Task<Promotion> PromoteAsync(
        string modelId, int version, DeploymentKind kind, string by, string reason, Guid? runId, CancellationToken ct)
    {
        var record = await VerifiedAsync(modelId, version, ct);
        var previous = (await registry.GetProductionAsync(modelId, ct))?.Version;
        return await MoveAsync(record, previous, kind, by, reason, runId, ct);
    }

    /// <summary>
    /// A run's deployment: only from the run's base version. Already moved to the candidate (work done
    /// again): the one deployment row is ensured and the promotion reported again.
    /// </summary>
    /// <exception cref="CannotPromoteException">production moved during the run, or the candidate does not verify.</exception>
    public async Task<Promotion> PromoteForRunAsync(
        string modelId, int baseVersion, int candidate, string by, string reason, Guid runId, CancellationToken ct)
    {
        var record = await VerifiedAsync(modelId, candidate, ct);
        var production = (await registry.GetProductionAsync(modelId, ct))?.Version;
        if (production == candidate)
        {
            var done = (await deployments.ListByModelAsync(modelId, 100, ct)).FirstOrDefault(d => d.RunId == runId && d.Kind == DeploymentKind.Deploy);
            if (done is null)
            {
                await AddDeploymentAsync(modelId, candidate, baseVersion, DeploymentKind.Deploy, by, reason, runId, ct);
            }

            return new Promotion(record, done?.PreviousVersion ?? baseVersion);
        }

        if (production != baseVersion)
        {
            throw new CannotPromoteException(
                $"production of {modelId} moved from v{baseVersion} to v{production} during the run; candidate v{candidate} is not deployed");
        }

        return await MoveAsync(record, baseVersion, DeploymentKind.Deploy, by, reason, runId, ct);
    }

    private async Task<ModelVersionRecord> VerifiedAsync(string modelId, int version, CancellationToken ct)
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

        return record;
    }

    private async Task<Promotion> MoveAsync(ModelVersionRecord record, int? expected, DeploymentKind kind, string by, string reason, Guid? runId, CancellationToken ct)
    {
        var change = kind == DeploymentKind.Rollback ? AliasChangeKind.Rollback : AliasChangeKind.Deploy;
        if (!await registry.TryMoveProductionAsync(record.ModelId, expected, record.Version, change, by, reason, ct))
        {
            // Retried by the consume pipeline; the retry sees where production is now.
            throw new InvalidOperationException($"production alias of {record.ModelId} changed concurrently; retrying");
        }

        await AddDeploymentAsync(record.ModelId, record.Version, expected, kind, by, reason, runId, ct);
        return new Promotion(record, expected);
    }

    private Task<long> AddDeploymentAsync(string modelId, int version, int? previous, DeploymentKind kind, string by, string reason, Guid? runId, CancellationToken ct) =>
        deployments.AddAsync(new DeploymentRecord
        {
            ModelId = modelId, Version = version, PreviousVersion = previous, Kind = kind, DeployedBy = by, Reason = reason, RunId = runId,
        }, ct);
}

public sealed class CannotPromoteException(string message) : Exception(message);
