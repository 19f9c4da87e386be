using System.ComponentModel.DataAnnotations;

namespace Pipeline.Deployment;

/// <summary>Section "Deployment".</summary>
public sealed class DeploymentOptions
{
    public const string Section = "Deployment";

    /// <summary>How long a run may stay in each stage before it is failed (AwaitingApproval has its own expiry in the gate).</summary>
    public Dictionary<string, TimeSpan> StageTimeouts { get; set; } = new()
    {
        ["Detected"] = TimeSpan.FromMinutes(15),
        ["Scoring"] = TimeSpan.FromMinutes(30),
        ["Tuning"] = TimeSpan.FromMinutes(60),
        ["Evaluating"] = TimeSpan.FromMinutes(30),
        ["Deploying"] = TimeSpan.FromMinutes(10),
    };

    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00")]
    public TimeSpan WatchdogInterval { get; set; } = TimeSpan.FromSeconds(15);
}
