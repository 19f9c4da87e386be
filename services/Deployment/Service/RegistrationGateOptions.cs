using System.ComponentModel.DataAnnotations;

namespace Pipeline.Deployment;

/// <summary>
/// The gate's precision settings, read by Deployment from the same section "Gate" as EvaluationGate (keep them
/// equal in both services): registration refuses reference data that cannot fill the gate's holdout and replay set.
/// Defaults are EvaluationGate's.
/// </summary>
public sealed class RegistrationGateOptions
{
    public const string Section = "Gate";

    [Range(0.001, 0.5)]
    public double Precision { get; set; } = 0.04;

    [Range(0.001, 1.0)]
    public double ExpectedDiscordance { get; set; } = 0.15;

    [Range(0.5, 0.9999)]
    public double Confidence { get; set; } = 0.95;
}
