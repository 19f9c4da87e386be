using Pipeline.Drift.Performance;

namespace Pipeline.Drift.Monitoring;

/// <summary>What <see cref="RaiseSuppression.Decide"/> concluded for one evaluated window.</summary>
internal sealed record RaiseDecision(int Consecutive, bool Raise, string? Suppressed, PerformanceEstimate Evidence, TriggerDecision Trigger);

/// <summary>
/// The decision state of a <see cref="DriftMonitor"/>: hysteresis (dataset-drifted windows in a row and
/// their pooled accuracy evidence), a run in flight, an operator's pause and the cooldown after an
/// adaptation. Not thread-safe: the monitor locks.
/// </summary>
internal sealed class RaiseSuppression
{
    private readonly MonitorOptions options;
    private readonly TimeProvider time;
    private readonly PerformanceTracker performance;
    private readonly TriggerPolicy policy;
    private int consecutive;
    private bool inFlight;
    private bool paused;
    private DateTimeOffset? cooldownUntil;

    public RaiseSuppression(ReferenceProfile profile, MonitorOptions options, TimeProvider time, DriftMonitorState? state)
    {
        this.options = options;
        this.time = time;
        performance = new PerformanceTracker(profile.Performance, options.Trigger, profile.Summary);
        policy = new TriggerPolicy(options.Trigger);
        if (state is not null)
        {
            consecutive = state.ConsecutiveDriftedWindows;
            inFlight = state.RunInFlight;
            paused = state.Paused;
            cooldownUntil = state.CooldownUntil;
        }
    }

    /// <summary>Dataset-drifted windows in a row.</summary>
    public int Consecutive => consecutive;

    public DriftMonitorState Snapshot(long lastWindowId) => new(lastWindowId, consecutive, inFlight, paused, cooldownUntil);

    public void RunStarted() => inFlight = true;

    public void AdaptationFinished()
    {
        inFlight = false;
        consecutive = 0;
        performance.ResetStreak();
        cooldownUntil = time.GetUtcNow() + options.Cooldown;
    }

    public void RunAbandoned() => inFlight = false;

    public void Pause() => paused = true;

    public void Resume() => paused = false;

    public void AddFeedback(int labelled, int correct) => performance.AddFeedback(labelled, correct);

    /// <summary>Hysteresis, harm and suppression for an evaluated window that closed at <paramref name="closedAt"/>.</summary>
    public RaiseDecision Decide(bool datasetDrift, Observation[] rows, DateTimeOffset closedAt)
    {
        consecutive = datasetDrift ? consecutive + 1 : 0;
        bool labelsExpected = performance.LabelsSeen > 0;
        var evidence = performance.Record(performance.Measure(rows), datasetDrift);
        var trigger = policy.Decide(datasetDrift, consecutive, options.ConsecutiveWindowsToRaise, evidence, labelsExpected);
        string? suppressed = null;
        if (trigger.StartRun)
        {
            if (paused) suppressed = "paused";
            else if (inFlight) suppressed = "run_in_flight";
            else if (cooldownUntil is { } until && closedAt < until) suppressed = "cooldown";
        }

        bool raise = trigger.StartRun && suppressed is null;
        if (suppressed is not null) trigger = trigger with { StartRun = false, Reason = $"{trigger.Reason}; run suppressed: {suppressed}" };
        int consecutiveNow = consecutive;
        if (raise)
        {
            // Drift without harm keeps the streak (and its pooled evidence) going: a gradual shift
            // that becomes harmful later still starts a run. A raise starts both afresh.
            consecutive = 0;
            performance.ResetStreak();
            if (options.MarkRunInFlightOnRaise) inFlight = true;
        }

        return new RaiseDecision(consecutiveNow, raise, suppressed, evidence, trigger);
    }
}
