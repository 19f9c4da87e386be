using Microsoft.Extensions.Logging;
using Pipeline.AdaptationRuns;
using Pipeline.Artifacts;
using Pipeline.Storage.Artifacts;
using Pipeline.Storage.Repositories;

namespace Pipeline.Deployment;

/// <summary>
/// Warms deployment before its bus takes the first message (<see cref="WorkerWarmUp"/>): the message
/// contracts through MassTransit's JSON options, the run and registry reads of a promotion for ids no row has, and a
/// scratch file through the artifact store's verified path (written and deleted; libtorch stays unloaded). Writes no row. Off with Deployment:WarmUp=false.
/// </summary>
public sealed class DeploymentWarmUp(
    IAdaptationRunRepository runs, IModelRegistry registry, IArtifactStore artifacts, ILogger<DeploymentWarmUp> logger) : ReadsWarmUp(logger)
{
    public const string Switch = "Deployment:WarmUp";

    protected override (string Service, string What) Describe => ("deployment", "contracts, run and registry reads, one verified artifact");

    protected override async Task WarmAsync(CancellationToken cancellationToken)
    {
        StartWarmUp.WarmContracts();
        await StartWarmUp.WarmReadsAsync(runs, registry, cancellationToken);
        var stored = await artifacts.PutAsync(new byte[4096], WorkerWarmUp.Kind, $"{Environment.ProcessId}-{Guid.NewGuid():N}.bin", cancellationToken);
        try
        {
            await artifacts.GetVerifiedLocalPathAsync(stored.Uri, stored.Sha256, cancellationToken);
        }
        finally
        {
            artifacts.Delete(stored.Uri);
        }
    }
}
