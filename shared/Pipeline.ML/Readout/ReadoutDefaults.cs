namespace Pipeline.ML.Readout;

/// <summary>Defaults shared by every strategy that starts a readout.</summary>
public static class ReadoutDefaults
{
    /// <summary>
    /// Weight of the deployed model's probabilities in a new ridge readout's reference targets: half labels, half
    /// the deployed model (docs/decisions.md 137; 0.5 against 1 on the seed-3 demos, chosen before the other runs).
    /// </summary>
    public const double Distillation = 0.5;
}
