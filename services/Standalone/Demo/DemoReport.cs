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
    [JsonPropertyName("selected_fraction")] public double SelectedFraction { get; init; }
    [JsonPropertyName("updated_fraction_per_step")] public double UpdatedFractionPerStep { get; init; }
    [JsonPropertyName("stage_seconds")] public required DemoStageSeconds StageSeconds { get; init; }
    [JsonPropertyName("reasons")] public IReadOnlyList<string> Reasons { get; init; } = [];
    [JsonPropertyName("live_accuracy")] public required DemoLiveAccuracy LiveAccuracy { get; init; }
    [JsonPropertyName("rows_streamed")] public int RowsStreamed { get; init; }
    [JsonPropertyName("total_seconds")] public double TotalSeconds { get; init; }
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
