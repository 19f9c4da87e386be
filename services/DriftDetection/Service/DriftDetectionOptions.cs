using System.ComponentModel.DataAnnotations;
using Pipeline.Drift.Monitoring;

namespace Pipeline.DriftDetection;

/// <summary>Section "DriftDetection".</summary>
public sealed class DriftDetectionOptions : IValidatableObject
{
    public const string Section = "DriftDetection";

    public WindowKind Window { get; set; } = WindowKind.Tumbling;

    [Range(30, 1_000_000)]
    public int WindowSize { get; set; } = 500;

    /// <summary>Rows shared by consecutive sliding windows.</summary>
    [Range(0, 999_999)]
    public int Overlap { get; set; }

    /// <summary>Hysteresis: this many drifted windows in a row raise DriftDetected.</summary>
    [Range(1, 100)]
    public int ConsecutiveWindowsToRaise { get; set; } = 2;

    /// <summary>No new run for this long after an adaptation finished.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "30.00:00:00")]
    public TimeSpan Cooldown { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>Per-feature p-value threshold (KS for numeric, chi-squared for categorical).</summary>
    [Range(1e-12, 0.5)]
    public double PValueThreshold { get; set; } = 0.05;

    public bool Bonferroni { get; set; } = true;

    /// <summary>Dataset drift when at least this share of features drifted.</summary>
    [Range(0.0, 1.0)]
    public double DriftShare { get; set; } = 0.5;

    /// <summary>MMD on the model's embeddings (the reference side computed here, production rows as Inference published them from its forward pass); off: MMD on the summary features.</summary>
    public bool UseEmbeddings { get; set; } = true;

    public bool EnableMmd { get; set; } = true;

    [Range(10, 100_000)]
    public int MmdPermutations { get; set; } = 200;

    /// <summary>Reference rows used to build a profile.</summary>
    [Range(100, 1_000_000)]
    public int MaxReferenceRows { get; set; } = 5000;

    public string Device { get; set; } = "cpu";

    /// <summary>How long LabelsObserved waits for its batch to be ingested before it is retried.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:05:00")]
    public TimeSpan LabelsWaitForBatch { get; set; } = TimeSpan.FromSeconds(10);

    public int Seed { get; set; } = 1;

    /// <summary>Smallest accuracy drop against the reference (fraction) for drift to start a run; smaller: "drift without harm".</summary>
    [Range(0.0, 0.99)]
    public double MinAccuracyDrop { get; set; } = 0.02;

    /// <summary>False: confirmed drift alone starts a run, whatever the accuracy.</summary>
    public bool RequireHarm { get; set; } = true;

    /// <summary>Labelled rows (in batches or from feedback) in the evidence from which observed accuracy decides instead of the estimate.</summary>
    [Range(1, 1_000_000)]
    public int MinLabelledRows { get; set; } = 500;

    /// <summary>Windows to wait after confirmation for labels, when this model's labels come back and the estimate alone says harm.</summary>
    [Range(0, 100)]
    public int LabelWaitWindows { get; set; } = 3;

    /// <summary>The label-free accuracy estimator that decides harm (cbpe, atc, doc, iw, bbse or median; docs/drift.md says why the default).</summary>
    public string Estimator { get; set; } = new Drift.Performance.TriggerOptions().Estimator;

    /// <summary>When the estimate is unsure whether drift hurts ("harm unknown: labels needed"), wait for labels however long it takes.</summary>
    public bool LabelsRequired { get; set; }

    /// <summary>Most recent drifted windows pooled into the accuracy evidence.</summary>
    [Range(1, 1000)]
    public int MaxEvidenceWindows { get; set; } = 8;

    /// <summary>Features of each window exported as pipeline_drift_feature_score (its most drifted ones): bounds the metric's series per model.</summary>
    [Range(0, 100)]
    public int MetricsTopFeatures { get; set; } = 10;

    /// <summary>
    /// 0 (default): one queue per consumer, as for a single replica. N ≥ 1 (RabbitMQ): N partition queues
    /// behind a consistent-hash exchange on the model id, each with a single active consumer, so several
    /// replicas share the models and each model is handled in order by one replica at a time (docs/drift.md).
    /// Every replica must use the same N.
    /// </summary>
    [Range(0, 64)]
    public int Partitions { get; set; }

    public MonitorOptions ToMonitorOptions() => new()
    {
        Window = Window,
        WindowSize = WindowSize,
        Overlap = Overlap,
        ConsecutiveWindowsToRaise = ConsecutiveWindowsToRaise,
        Cooldown = Cooldown,
        MarkRunInFlightOnRaise = true,
        Decision = new Drift.DriftDecisionOptions
        {
            NumericThreshold = PValueThreshold, CategoricalThreshold = PValueThreshold, Bonferroni = Bonferroni, DatasetDriftShare = DriftShare,
        },
        EnableMmd = EnableMmd,
        MmdPermutations = MmdPermutations,
        Seed = Seed,
        Trigger = new Drift.Performance.TriggerOptions
        {
            MinAccuracyDrop = MinAccuracyDrop, RequireHarm = RequireHarm, MinLabelledRows = MinLabelledRows, MaxEvidenceWindows = MaxEvidenceWindows,
            LabelWaitWindows = LabelWaitWindows, Estimator = Estimator, LabelsRequired = LabelsRequired,
        },
    };

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Drift.Performance.AccuracyEstimators.Problem(Estimator, $"{Section}:{nameof(Estimator)}") is { } problem)
        {
            yield return new ValidationResult(problem, [nameof(Estimator)]);
        }
    }
}
