using System.ComponentModel.DataAnnotations;
using Pipeline.Storage.Repositories;

namespace Pipeline.AdaptationRuns;

/// <summary>Section "Runs": how long each stage is expected to take, and what the owner does when it does not finish.</summary>
public sealed class RunOwnerOptions : IValidatableObject
{
    public const string Section = "Runs";

    /// <summary>
    /// Expected duration of each stage's work on the configured budget. A stage with no result and
    /// no progress for NoProgressFactor times this is re-sent; tuning's progress reports re-arm it.
    /// </summary>
    public Dictionary<string, TimeSpan> ExpectedDuration { get; set; } = new()
    {
        // Scoring includes waiting for labels (Scoring:LabelWaitTimeout, 5 min by default).
        [nameof(RunState.Scoring)] = TimeSpan.FromMinutes(2),
        [nameof(RunState.Tuning)] = TimeSpan.FromMinutes(1),
        [nameof(RunState.Evaluating)] = TimeSpan.FromSeconds(30),
        [nameof(RunState.Deploying)] = TimeSpan.FromSeconds(10),
    };

    [Range(1.0, 100.0)]
    public double NoProgressFactor { get; set; } = 3;

    /// <summary>Sendings of a stage's work (the first included) before the run fails with the reason.</summary>
    [Range(1, 20)]
    public int MaxAttempts { get; set; } = 3;

    /// <summary>How long an approval request stays open before it expires into a rejection.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "30.00:00:00")]
    public TimeSpan ApprovalTimeout { get; set; } = TimeSpan.FromHours(4);

    /// <summary>How often due timers are looked for.</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:10:00")]
    public TimeSpan TimerInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How often the outbox is relayed when nothing wakes the relay earlier.</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:10:00")]
    public TimeSpan RelayInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The no-progress timeout of a stage.</summary>
    public TimeSpan NoProgressTimeout(RunState stage) => ExpectedDuration[stage.ToString()] * NoProgressFactor;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        foreach (var stage in new[] { RunState.Scoring, RunState.Tuning, RunState.Evaluating, RunState.Deploying })
        {
            if (!ExpectedDuration.TryGetValue(stage.ToString(), out var d) || d <= TimeSpan.Zero)
            {
                yield return new ValidationResult($"Runs:ExpectedDuration:{stage} must be a positive duration.", [nameof(ExpectedDuration)]);
            }
        }
    }
}
