using Pipeline.ML.Evaluation;
using Prometheus;

namespace Pipeline.EvaluationGate;

/// <summary>What the gate measured for its latest decision per model, with the interval bounds as a label.</summary>
internal static class GateMetrics
{
    public static readonly Gauge Gain = Metrics.CreateGauge(
        "pipeline_gate_gain", "Accuracy gain on the shifted holdout at the model's latest gate decision (fraction), by bound: estimate, lower, upper.",
        "model", "bound");

    public static readonly Gauge Forgetting = Metrics.CreateGauge(
        "pipeline_gate_forgetting", "Accuracy lost on the original holdout at the model's latest gate decision (fraction), by bound: estimate, lower, upper.",
        "model", "bound");

    public static readonly Counter Decisions = Metrics.CreateCounter(
        "pipeline_gate_decisions_total", "Gate decisions by model and decision (Approve, Reject, AskOperator).", "model", "decision");

    public static void Record(string model, GateMeasurements m, string decision)
    {
        Gain.WithLabels(model, "estimate").Set(m.Gain);
        Gain.WithLabels(model, "lower").Set(m.GainInterval.Lower);
        Gain.WithLabels(model, "upper").Set(m.GainInterval.Upper);
        Forgetting.WithLabels(model, "estimate").Set(m.Forgetting);
        Forgetting.WithLabels(model, "lower").Set(m.ForgettingInterval.Lower);
        Forgetting.WithLabels(model, "upper").Set(m.ForgettingInterval.Upper);
        Decisions.WithLabels(model, decision).Inc();
    }
}
