using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pipeline.Hosting;
using Pipeline.Storage.Repositories;
using Prometheus;

namespace Pipeline.AdaptationRuns;

/// <summary>Section "Runs": how often the approval gauges are refreshed from the runs table.</summary>
public sealed class ApprovalMetricsOptions
{
    [Range(typeof(TimeSpan), "00:00:00.050", "00:10:00")]
    public TimeSpan MetricsInterval { get; set; } = TimeSpan.FromSeconds(5);
}

/// <summary>
/// Candidates waiting for an operator, per model: how many and how long the oldest has waited, next to
/// the approval timeout after which they expire into a rejection. Read from the run owner's own
/// table (the one source of truth, after restarts too) every <see cref="ApprovalMetricsOptions.MetricsInterval"/>;
/// every registered model has a series, 0 when nothing waits.
/// </summary>
public sealed class ApprovalMetrics(
    IAdaptationRunRepository runs, IModelRegistry registry, IOptions<RunOwnerOptions> owner, IOptions<ApprovalMetricsOptions> options,
    TimeProvider time, ILogger<ApprovalMetrics> logger) : PeriodicService(time, logger)
{
    public static readonly Gauge Pending = Metrics.CreateGauge(
        "pipeline_approvals_pending", "Adaptation runs whose candidate awaits an operator's approval, by model.", "model");

    public static readonly Gauge OldestAge = Metrics.CreateGauge(
        "pipeline_approval_oldest_age_seconds", "How long the model's oldest pending approval has waited (0 when none waits).", "model");

    public static readonly Gauge TimeoutSeconds = Metrics.CreateGauge(
        "pipeline_approval_timeout_seconds", "Runs:ApprovalTimeout: a pending approval older than this expires into a rejection.");

    protected override TimeSpan Interval => options.Value.MetricsInterval;

    public override async Task RunOnceAsync(CancellationToken ct)
    {
        var now = Time.GetUtcNow();
        var waiting = (await runs.ListActiveAsync(ct)).Where(r => r.State == RunState.AwaitingApproval).ToList();
        var models = (await registry.ListModelsAsync(ct)).Select(m => m.ModelId)
            .Concat(waiting.Select(r => r.ModelId))
            .Distinct(StringComparer.Ordinal);
        foreach (var model in models)
        {
            var mine = waiting.Where(r => r.ModelId == model).ToList();
            Pending.WithLabels(model).Set(mine.Count);
            var oldest = mine.Select(r => r.AwaitingApprovalAt ?? r.UpdatedAt).DefaultIfEmpty(now).Min();
            OldestAge.WithLabels(model).Set(Math.Max(0, (now - oldest).TotalSeconds));
        }

        TimeoutSeconds.Set(owner.Value.ApprovalTimeout.TotalSeconds);
    }
}
