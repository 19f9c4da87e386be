using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pipeline.Hosting;
using Pipeline.Storage.Repositories;

namespace Pipeline.AdaptationRuns;

/// <summary>
/// Fires the owner's due timers. Debian's RabbitMQ has no delayed-message exchange, so MassTransit
/// cannot schedule on it; a durable timer table polled here survives restarts of both the owner
/// and the broker, and sits in the same database transaction as the run it belongs to.
/// </summary>
public sealed class RunTimers(IRunStepStore store, RunOwner owner, IOptions<RunOwnerOptions> options, TimeProvider time, ILogger<RunTimers> logger)
    : PeriodicService(time, logger)
{
    protected override TimeSpan Interval => options.Value.TimerInterval;

    public override async Task RunOnceAsync(CancellationToken ct)
    {
        foreach (var timer in await store.ListDueAsync(Time.GetUtcNow(), 100, ct))
        {
            await owner.OnTimerAsync(timer, ct);
        }
    }
}
