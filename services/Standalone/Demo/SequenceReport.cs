using System.Text.Json.Serialization;

namespace Pipeline.Standalone.Demo;

/// <summary>The continual demo's JSON (docs/architecture.md, "Command-line contracts"); extra fields are allowed.</summary>
public sealed record SequenceReport
{
    /// <summary>The regimes in order, "original" first.</summary>
    [JsonPropertyName("sequence")] public required IReadOnlyList<string> Sequence { get; init; }
    [JsonPropertyName("seed")] public int Seed { get; init; }
    [JsonPropertyName("mode")] public required string Mode { get; init; }
    [JsonPropertyName("events")] public required IReadOnlyList<SequenceEvent> Events { get; init; }
    /// <summary>The base model (v1) on the unseen data of every regime, before any event.</summary>
    [JsonPropertyName("base_acc")] public required IReadOnlyList<double> BaseAcc { get; init; }
    /// <summary><c>acc_matrix[t][j]</c>: the production model after event t on unseen data of regime j (0 = original).</summary>
    [JsonPropertyName("acc_matrix")] public required IReadOnlyList<IReadOnlyList<double>> AccMatrix { get; init; }
    [JsonPropertyName("avg_acc")] public double AvgAcc { get; init; }
    [JsonPropertyName("forgetting")] public double Forgetting { get; init; }
    [JsonPropertyName("max_forgetting")] public double MaxForgetting { get; init; }
    [JsonPropertyName("bwt")] public double Bwt { get; init; }
    /// <summary>Optimizer steps × batch size over every candidate of every run (the pipeline's training cost).</summary>
    [JsonPropertyName("sample_passes")] public long SamplePasses { get; init; }
    [JsonPropertyName("retrain")] public SequenceRetrain? Retrain { get; init; }
    [JsonPropertyName("unseen_rows")] public required IReadOnlyList<int> UnseenRows { get; init; }
    [JsonPropertyName("settings")] public required IReadOnlyDictionary<string, string> Settings { get; init; }
    /// <summary>The SVG written beside the JSON (file name).</summary>
    [JsonPropertyName("chart")] public string? Chart { get; init; }
    [JsonPropertyName("rows_streamed")] public int RowsStreamed { get; init; }
    [JsonPropertyName("total_seconds")] public double TotalSeconds { get; init; }
}

/// <summary>One regime change and what the pipeline did about it.</summary>
public sealed record SequenceEvent
{
    [JsonPropertyName("regime")] public required string Regime { get; init; }
    /// <summary>The regime cost the production model at least 2 points on unseen data before adaptation (against the regime it served).</summary>
    [JsonPropertyName("harmful")] public bool Harmful { get; init; }
    /// <summary>Drift windows closed from the regime's first row until the run was raised; null: not detected.</summary>
    [JsonPropertyName("detected_after_windows")] public int? DetectedAfterWindows { get; init; }
    /// <summary>deployed, rejected, awaiting_approval, failed, no_run (drift without harm), no_drift_detected or timeout.</summary>
    [JsonPropertyName("outcome")] public required string Outcome { get; init; }
    [JsonPropertyName("run_id")] public string? RunId { get; init; }
    [JsonPropertyName("production_before")] public int ProductionBefore { get; init; }
    [JsonPropertyName("deployed_version")] public int? DeployedVersion { get; init; }
    [JsonPropertyName("winner")] public string? Winner { get; init; }
    [JsonPropertyName("candidates")] public IReadOnlyList<string> Candidates { get; init; } = [];
    /// <summary>The deployed version's selected fraction of parameters; null when nothing was deployed.</summary>
    [JsonPropertyName("selected_fraction")] public double? SelectedFraction { get; init; }
    /// <summary>Optimizer steps × batch size over the run's candidates.</summary>
    [JsonPropertyName("sample_passes")] public long SamplePasses { get; init; }
    /// <summary>From the run's drift detection to its outcome.</summary>
    [JsonPropertyName("seconds")] public double Seconds { get; init; }
    /// <summary>kept, broken, or n/a when nothing was deployed (DemoPromise on unseen data: gain on this regime, forgetting on the earlier ones).</summary>
    [JsonPropertyName("promise")] public required string Promise { get; init; }
    [JsonPropertyName("gain_unseen")] public double? GainUnseen { get; init; }
    [JsonPropertyName("forgetting_unseen")] public double? ForgettingUnseen { get; init; }
    [JsonPropertyName("reasons")] public IReadOnlyList<string> Reasons { get; init; } = [];
    [JsonPropertyName("rows_streamed")] public int RowsStreamed { get; init; }
    [JsonPropertyName("live_accuracy_before")] public double? LiveAccuracyBefore { get; init; }
    [JsonPropertyName("live_accuracy_after")] public double? LiveAccuracyAfter { get; init; }
}

/// <summary>The reference: a model retrained from scratch (the base recipe) on every labelled row seen, after each event.</summary>
public sealed record SequenceRetrain
{
    [JsonPropertyName("acc_matrix")] public required IReadOnlyList<IReadOnlyList<double>> AccMatrix { get; init; }
    [JsonPropertyName("avg_acc")] public double AvgAcc { get; init; }
    [JsonPropertyName("forgetting")] public double Forgetting { get; init; }
    [JsonPropertyName("max_forgetting")] public double MaxForgetting { get; init; }
    [JsonPropertyName("bwt")] public double Bwt { get; init; }
    [JsonPropertyName("sample_passes")] public long SamplePasses { get; init; }
    [JsonPropertyName("train_seconds")] public double TrainSeconds { get; init; }
}
