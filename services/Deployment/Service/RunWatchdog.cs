using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pipeline.Hosting;
using Pipeline.Storage.Repositories;

namespace Pipeline.Deployment;

/// <summary>Fails runs that stay in a stage longer than its timeout (a crashed worker, a lost message).</summary>
public sealed class RunWatchdog(
    IServiceScopeFactory scopes, IOptions<DeploymentOptions> options, TimeProvider time, ILogger<RunWatchdog> logger)
    : PeriodicService(time, logger)
{
    protected override TimeSpan Interval => options.Value.WatchdogInterval;

    public override async Task RunOnceAsync(CancellationToken ct)
    {
        using var scope = scopes.CreateScope();
        var runs = scope.ServiceProvider.GetRequiredService<IAdaptationRunRepository>();
        var publish = scope.ServiceProvider.GetRequiredService<IPublishEndpoint>();
        var now = Time.GetUtcNow();
        foreach (var run in await runs.ListActiveAsync(ct))
        {
            if (!options.Value.StageTimeouts.TryGetValue(run.State.ToString(), out var timeout))
            {
                continue;
            }

            var since = StageStartedAt(run);
            if (now - since > timeout)
            {
                await RunFailures.FailAsync(runs, publish, logger, run.RunId, run.ModelId, run.State.ToString().ToLowerInvariant(),
                    $"timed out: {run.State} for more than {timeout}", ct);
            }
        }
    }

    private static DateTimeOffset StageStartedAt(AdaptationRun run) => run.State switch
    {
        RunState.Scoring => run.ScoringAt ?? run.DetectedAt,
        RunState.Tuning => run.TuningAt ?? run.DetectedAt,
        RunState.Evaluating => run.EvaluatingAt ?? run.DetectedAt,
        RunState.AwaitingApproval => run.AwaitingApprovalAt ?? run.DetectedAt,
        RunState.Deploying => run.DeployingAt ?? run.DetectedAt,
        _ => run.DetectedAt,
    };
}
