using Microsoft.Extensions.Logging;

namespace Pipeline.Hosting;

/// <summary>
/// A warm-up saves the first job its start-up costs; it never decides whether a host starts. When it fails (the
/// database or the artifact store unreachable at start) the host starts anyway, its readiness check reports the
/// dependency, and the first job pays its own start.
/// </summary>
public static class BestEffortWarmUp
{
    /// <summary>Runs <paramref name="warm"/>; true when it completed, false (logged as a warning) when it failed.</summary>
    public static async Task<bool> RunAsync(ILogger logger, string name, Func<Task> warm, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentNullException.ThrowIfNull(warm);
        try
        {
            await warm();
            return true;
        }
        catch (Exception ex) when (!(ex is OperationCanceledException && ct.IsCancellationRequested))
        {
            logger.LogWarning("{WarmUp} skipped: {Reason}; the host starts and its first job pays its own start", name, ex.GetBaseException().Message);
            return false;
        }
    }
}
