using Pipeline.Drift.Statistics;

namespace Pipeline.Drift.Monitoring;

/// <summary>Outcome of a window.</summary>
public enum WindowStatus
{
    /// <summary>Statistics computed.</summary>
    Evaluated,
    /// <summary>Too few accepted rows (partial window on Flush): no statistics, counters unchanged.</summary>
    InsufficientData,
    /// <summary>Evaluation failed unexpectedly; <see cref="WindowReport.Problems"/> says why. Counters unchanged.</summary>
    Error,
}

/// <summary>Per-feature result in a window.</summary>
public sealed record FeatureScore(
    string Name,
    string Kind,
    bool Drifted,
    double? KsStatistic,
    double? PValue,
    double? Psi,
    double? JensenShannon,
    double? Wasserstein,
    double? ChiSquared,
    int Count,
    int Excluded,
    IReadOnlyList<string>? UnseenCategories,
    string? Note);

/// <summary>Prediction drift of a window.</summary>
public sealed record PredictionDrift(
    bool Drifted,
    ChiSquaredResult ClassChiSquared,
    double ClassPsi,
    double ClassJensenShannon,
    double ReferenceMeanConfidence,
    double CurrentMeanConfidence,
    double? ConfidenceKsPValue,
    double? Accuracy,
    int LabelledRows);

/// <summary>One closed window.</summary>
public sealed record WindowReport
{
    /// <summary>Sequential id per monitor (1, 2, …).</summary>
    public long WindowId { get; init; }
    /// <summary>Model id.</summary>
    public string ModelId { get; init; } = "";
    /// <summary>Model version of the profile.</summary>
    public int ModelVersion { get; init; }
    /// <summary>When the window closed.</summary>
    public DateTimeOffset ClosedAt { get; init; }
    /// <summary>Accepted rows in the window.</summary>
    public int Rows { get; init; }
    /// <summary>Rows rejected since the previous report (wrong width, null).</summary>
    public int RejectedRows { get; init; }
    /// <summary>Partial window closed by Flush.</summary>
    public bool Partial { get; init; }
    /// <summary>The rows new in this window, by source (only rows ingested with a <see cref="RowSource"/>): each accepted row is new in exactly one window.</summary>
    public IReadOnlyList<WindowSegment> NewRows { get; init; } = [];
    /// <summary>Status.</summary>
    public WindowStatus Status { get; init; }
    /// <summary>Data problems seen (rejections, non-finite values, unseen categories, …).</summary>
    public IReadOnlyList<string> Problems { get; init; } = [];
    /// <summary>Per-feature results (empty unless Evaluated).</summary>
    public IReadOnlyList<FeatureScore> Features { get; init; } = [];
    /// <summary>Features evaluated (denominator of the share and of Bonferroni).</summary>
    public int EvaluatedFeatures { get; init; }
    /// <summary>Share of evaluated features that drifted.</summary>
    public double ShareDrifted { get; init; }
    /// <summary>Dataset drift decision for this window.</summary>
    public bool DatasetDrift { get; init; }
    /// <summary>max(share drifted, 1 − MMD p-value when MMD counts and is significant): a [0, 1] score.</summary>
    public double DatasetDriftScore { get; init; }
    /// <summary>Severity.</summary>
    public DriftSeverity Severity { get; init; }
    /// <summary>Most drifted features (smallest p-value / largest statistic first).</summary>
    public IReadOnlyList<string> TopFeatures { get; init; } = [];
    /// <summary>MMD result (null when not run).</summary>
    public MmdResult? Mmd { get; init; }
    /// <summary>Whether MMD was significant.</summary>
    public bool MmdDrifted { get; init; }
    /// <summary>Prediction drift (null when the profile has none).</summary>
    public PredictionDrift? Prediction { get; init; }
    /// <summary>Dataset-drifted windows in a row, this one included.</summary>
    public int ConsecutiveDriftedWindows { get; init; }
    /// <summary>Raise now (publish DriftDetected).</summary>
    public bool Raise { get; init; }
    /// <summary>Why a raise was withheld although the hysteresis was met: "run_in_flight", "paused", "cooldown".</summary>
    public string? SuppressedReason { get; init; }
    /// <summary>Accuracy evidence: this window alone, or the pooled drifted streak it belongs to.</summary>
    public Performance.PerformanceEstimate? Performance { get; init; }
    /// <summary>The trigger decision and its reason (null unless Evaluated).</summary>
    public Performance.TriggerDecision? Trigger { get; init; }
}

/// <summary>Result of one <see cref="DriftMonitor.Ingest"/> call.</summary>
public sealed record IngestResult(int Accepted, int Rejected, IReadOnlyList<string> Problems, IReadOnlyList<WindowReport> Windows);

/// <summary>State a host may persist and restore.</summary>
public sealed record DriftMonitorState(
    long LastWindowId, int ConsecutiveDriftedWindows, bool RunInFlight, bool Paused, DateTimeOffset? CooldownUntil);
