namespace Pipeline.Drift.Monitoring;

/// <summary>Windowing mode.</summary>
public enum WindowKind
{
    /// <summary>Disjoint windows of WindowSize rows.</summary>
    Tumbling,
    /// <summary>Windows of WindowSize rows, a new one every WindowSize − Overlap rows.</summary>
    Sliding,
}

/// <summary>Severity of a window's drift.</summary>
public enum DriftSeverity
{
    /// <summary>Nothing drifted.</summary>
    None,
    /// <summary>Some features (or MMD, or predictions) drifted, but not the dataset.</summary>
    Low,
    /// <summary>Dataset drift (share of drifted features ≥ threshold, or MMD when it counts).</summary>
    Medium,
    /// <summary>Dataset drift with share ≥ HighShare, or dataset drift together with prediction drift.</summary>
    High,
}

/// <summary>Settings of a <see cref="DriftMonitor"/>.</summary>
public sealed record MonitorOptions
{
    /// <summary>Tumbling (default) or sliding.</summary>
    public WindowKind Window { get; init; } = WindowKind.Tumbling;
    /// <summary>Rows per window.</summary>
    public int WindowSize { get; init; } = 1000;
    /// <summary>Rows shared by consecutive sliding windows (0 ≤ Overlap &lt; WindowSize; ignored when tumbling).</summary>
    public int Overlap { get; init; }
    /// <summary>Windows with fewer accepted rows (only possible on Flush) are reported as InsufficientData.</summary>
    public int MinWindowRows { get; init; } = 30;
    /// <summary>Consecutive dataset-drifted windows required before raising (hysteresis).</summary>
    public int ConsecutiveWindowsToRaise { get; init; } = 2;
    /// <summary>No raise for this long after an adaptation finished.</summary>
    public TimeSpan Cooldown { get; init; } = TimeSpan.FromMinutes(30);
    /// <summary>When a window raises, consider a run in flight until <see cref="DriftMonitor.AdaptationFinished"/>.</summary>
    public bool MarkRunInFlightOnRaise { get; init; } = true;
    /// <summary>Per-feature decision rules (docs/drift.md defaults; Bonferroni on by default for the monitor).</summary>
    public DriftDecisionOptions Decision { get; init; } = new() { Bonferroni = true };
    /// <summary>Run MMD when the profile has a multivariate sample.</summary>
    public bool EnableMmd { get; init; } = true;
    /// <summary>MMD permutations.</summary>
    public int MmdPermutations { get; init; } = 200;
    /// <summary>Current-window points used by MMD (subsampled, seeded).</summary>
    public int MmdMaxPoints { get; init; } = 300;
    /// <summary>MMD significance level.</summary>
    public double MmdAlpha { get; init; } = 0.01;
    /// <summary>Whether a significant MMD alone makes the window dataset-drifted.</summary>
    public bool MmdCountsAsDatasetDrift { get; init; } = true;
    /// <summary>Prediction drift when the predicted-class chi-squared p-value is below this.</summary>
    public double PredictionAlpha { get; init; } = 0.01;
    /// <summary>Share of drifted features from which a dataset-drifted window is High.</summary>
    public double HighShare { get; init; } = 0.75;
    /// <summary>How many top features a report lists.</summary>
    public int TopFeatures { get; init; } = 5;
    /// <summary>Seed for MMD subsampling/permutations (combined with the window id).</summary>
    public int Seed { get; init; } = 1;
    /// <summary>When confirmed drift may start a run (accuracy harm; see <see cref="Performance.TriggerPolicy"/>).</summary>
    public Performance.TriggerOptions Trigger { get; init; } = new();

    /// <summary>Rows between evaluations.</summary>
    public int Step => Window == WindowKind.Tumbling ? WindowSize : WindowSize - Overlap;

    /// <summary>Throws <see cref="DriftInputException"/> when inconsistent.</summary>
    public void Validate()
    {
        if (WindowSize < 2) throw new DriftInputException($"WindowSize must be at least 2, got {WindowSize}.");
        if (Window == WindowKind.Sliding && (Overlap < 0 || Overlap >= WindowSize))
            throw new DriftInputException($"Overlap must be in [0, WindowSize), got {Overlap}.");
        if (MinWindowRows < 2 || MinWindowRows > WindowSize)
            throw new DriftInputException($"MinWindowRows must be in [2, WindowSize], got {MinWindowRows}.");
        if (ConsecutiveWindowsToRaise < 1) throw new DriftInputException("ConsecutiveWindowsToRaise must be at least 1.");
        if (Cooldown < TimeSpan.Zero) throw new DriftInputException("Cooldown must not be negative.");
        if (MmdPermutations < 1 || MmdMaxPoints < 2) throw new DriftInputException("MMD needs permutations ≥ 1 and points ≥ 2.");
        if (!(MmdAlpha > 0 && MmdAlpha < 1) || !(PredictionAlpha > 0 && PredictionAlpha < 1))
            throw new DriftInputException("Alphas must be in (0, 1).");
        Decision.Validate();
        Trigger.Validate();
    }
}
