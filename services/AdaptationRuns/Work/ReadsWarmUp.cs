using System.Diagnostics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Pipeline.Hosting;

namespace Pipeline.AdaptationRuns;

/// <summary>
/// A warm-up of a service that runs no model (the run owner, deployment): its reads and contracts before the bus
/// starts (<see cref="StartWarmUp"/>), best effort (<see cref="BestEffortWarmUp"/>), timed and logged once.
/// </summary>
public abstract class ReadsWarmUp(ILogger logger) : IHostedService
{
    /// <summary>How long the warm-up took (null until it ran, or when it could not run).</summary>
    public TimeSpan? Elapsed { get; private set; }

    /// <summary>The service's name and what it warms, for the log line.</summary>
    protected abstract (string Service, string What) Describe { get; }

    /// <summary>The service's own reads (and, for deployment, one verified artifact); writes no row.</summary>
    protected abstract Task WarmAsync(CancellationToken ct);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        var (service, what) = Describe;
        if (await BestEffortWarmUp.RunAsync(logger, GetType().Name, () => WarmAsync(cancellationToken), cancellationToken))
        {
            Elapsed = watch.Elapsed;
            logger.LogInformation("{Service} warmed in {Milliseconds:F0} ms ({What})", service, Elapsed.Value.TotalMilliseconds, what);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
