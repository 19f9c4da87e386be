using System.Text.Json.Serialization;

namespace Pipeline.Standalone.Demo;

/// <summary>The demo's JSON (docs/architecture.md, "Command-line contracts"); extra fields are allowed.</summary>
public sealed record DemoReport
{
    [JsonPropertyName("scenario")] public required string Scenario { get; init; }
    [JsonPropertyName("mode")] public required string Mode { get; init; }
    [JsonPropertyName("outcome")] public required string Outcome { get; init; }
    [JsonPropertyName("run_id")] public string? RunId { get; init; }
    [JsonPropertyName("base_version")] public int BaseVersion { get; init; }
    [JsonPropertyName("deployed_version")] public int? DeployedVersion { get; init; }
    [JsonPropertyName("accuracy")] public required DemoAccuracy Accuracy { get; init; }
    /// <summary>Of the deployed version (0 when nothing was deployed).</summary>
    [JsonPropertyName("selected_fraction")] public double SelectedFraction { get; init; }
    /// <summary>What the scoring stage's MI mask selected (the mask the sparse strategies may use).</summary>
    [JsonPropertyName("mask_selected_fraction")] public double MaskSelectedFraction { get; init; }
    [JsonPropertyName("updated_fraction_per_step")] public double UpdatedFractionPerStep { get; init; }
    [JsonPropertyName("stage_seconds")] public required DemoStageSeconds StageSeconds { get; init; }
    [JsonPropertyName("reasons")] public IReadOnlyList<string> Reasons { get; init; } = [];
    [JsonPropertyName("live_accuracy")] public required DemoLiveAccuracy LiveAccuracy { get; init; }
    [JsonPropertyName("rows_streamed")] public int RowsStreamed { get; init; }
    [JsonPropertyName("total_seconds")] public double TotalSeconds { get; init; }
    [JsonPropertyName("tournament")] public DemoTournament? Tournament { get; init; }
    [JsonPropertyName("promise")] public DemoPromise? Promise { get; init; }
}

public sealed record DemoAccuracy
{
    [JsonPropertyName("original_before")] public double OriginalBefore { get; init; }
    [JsonPropertyName("original_after")] public double OriginalAfter { get; init; }
    [JsonPropertyName("shifted_before")] public double ShiftedBefore { get; init; }
    [JsonPropertyName("shifted_after")] public double ShiftedAfter { get; init; }
}

public sealed record DemoStageSeconds
{
    [JsonPropertyName("detect")] public double Detect { get; init; }
    [JsonPropertyName("score")] public double Score { get; init; }
    [JsonPropertyName("tune")] public double Tune { get; init; }
    [JsonPropertyName("evaluate")] public double Evaluate { get; init; }
    [JsonPropertyName("deploy")] public double Deploy { get; init; }
}

/// <summary>Accuracy of the production model on the labelled live traffic, by phase.</summary>
public sealed record DemoLiveAccuracy
{
    [JsonPropertyName("before_drift")] public double? BeforeDrift { get; init; }
    [JsonPropertyName("during_drift")] public double? DuringDrift { get; init; }
    [JsonPropertyName("after_deploy")] public double? AfterDeploy { get; init; }
}

/// <summary>The run's tournament as the run owner recorded it (null fields: not reached).</summary>
public sealed record DemoTournament
{
    [JsonPropertyName("shift_kind")] public string? ShiftKind { get; init; }
    [JsonPropertyName("severity")] public string? Severity { get; init; }
    [JsonPropertyName("label_rows")] public int? LabelRows { get; init; }
    [JsonPropertyName("strategies")] public IReadOnlyList<string> Strategies { get; init; } = [];
    [JsonPropertyName("policy_reason")] public string? PolicyReason { get; init; }
    [JsonPropertyName("winner")] public string? Winner { get; init; }
    [JsonPropertyName("winner_reason")] public string? WinnerReason { get; init; }
    [JsonPropertyName("candidates")] public IReadOnlyList<DemoCandidate> Candidates { get; init; } = [];
}

public sealed record DemoCandidate
{
    [JsonPropertyName("strategy")] public required string Strategy { get; init; }
    [JsonPropertyName("version")] public int? Version { get; init; }
    [JsonPropertyName("state")] public required string State { get; init; }
    [JsonPropertyName("decision")] public string? Decision { get; init; }
    [JsonPropertyName("gain")] public double? Gain { get; init; }
    [JsonPropertyName("gain_interval")] public double?[] GainInterval { get; init; } = [];
    [JsonPropertyName("forgetting")] public double? Forgetting { get; init; }
    [JsonPropertyName("forgetting_interval")] public double?[] ForgettingInterval { get; init; } = [];
    [JsonPropertyName("latency_increase")] public double? LatencyIncrease { get; init; }
    [JsonPropertyName("train_seconds")] public double? TrainSeconds { get; init; }
    [JsonPropertyName("score")] public double? Score { get; init; }
    [JsonPropertyName("outcome")] public string? Outcome { get; init; }
    [JsonPropertyName("reason")] public string? Reason { get; init; }
}

/// <summary>
/// The gate's promise checked on 2,000 test images no stage saw (not streamed, not a holdout, not training data):
/// the deployed model's accuracy loss on the original distribution and its gain on the same images shifted.
/// </summary>
public sealed record DemoPromise
{
    [JsonPropertyName("unseen_rows")] public int UnseenRows { get; init; }
    [JsonPropertyName("max_forgetting")] public double MaxForgetting { get; init; }
    [JsonPropertyName("min_gain")] public double MinGain { get; init; }
    /// <summary>Null when nothing was deployed (the promise is about deployed models).</summary>
    [JsonPropertyName("forgetting_unseen")] public double? ForgettingUnseen { get; init; }
    [JsonPropertyName("gain_unseen")] public double? GainUnseen { get; init; }
    [JsonPropertyName("kept")] public bool? Kept { get; init; }
}
