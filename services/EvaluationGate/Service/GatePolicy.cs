using System.Globalization;
using Pipeline.Contracts;

namespace Pipeline.EvaluationGate;

/// <summary>Measurements of production and candidate on the same holdouts.</summary>
public sealed record GateMeasurements(
    double ShiftedBefore, double ShiftedAfter, double OriginalBefore, double OriginalAfter,
    double LatencyMsBefore, double LatencyMsAfter)
{
    public double Gain => ShiftedAfter - ShiftedBefore;

    public double Forgetting => OriginalBefore - OriginalAfter;

    public double LatencyIncrease => LatencyMsBefore <= 0 ? 0 : (LatencyMsAfter - LatencyMsBefore) / LatencyMsBefore;
}

/// <summary>
/// The promotion decision. Every check passes: approve (auto mode) or ask (manual mode). A check
/// misses only by less than the grey zone: ask a person. Otherwise reject. Reasons always say why.
/// </summary>
public static class GatePolicy
{
    public static (GateDecision Decision, IReadOnlyList<string> Reasons) Decide(GateMeasurements m, GateOptions o)
    {
        var hard = new List<string>();
        var grey = new List<string>();
        var ok = new List<string>();

        Check(m.Gain >= o.MinGain, m.Gain >= o.MinGain - o.GreyZone,
            $"gain on shifted data {Pct(m.Gain)} (minimum {Pct(o.MinGain)})");
        Check(m.Forgetting <= o.MaxForgetting, m.Forgetting <= o.MaxForgetting + o.GreyZone,
            $"forgetting on original data {Pct(m.Forgetting)} (maximum {Pct(o.MaxForgetting)})");
        Check(m.LatencyIncrease <= o.MaxLatencyIncrease || m.LatencyMsAfter - m.LatencyMsBefore <= o.LatencyToleranceMs, false,
            $"latency {m.LatencyMsBefore:F2} → {m.LatencyMsAfter:F2} ms per batch, {Relative(m.LatencyIncrease)} (maximum {Relative(o.MaxLatencyIncrease)})");

        if (hard.Count > 0)
        {
            return (GateDecision.Reject, hard.Concat(grey).ToList());
        }

        if (grey.Count > 0)
        {
            return (GateDecision.AskOperator, grey.Select(r => "grey zone: " + r).ToList());
        }

        return o.Mode == GateMode.Auto
            ? (GateDecision.Approve, ok)
            : (GateDecision.AskOperator, ok.Prepend("manual mode: every candidate needs an operator").ToList());

        void Check(bool passes, bool withinGrey, string text)
        {
            if (passes)
            {
                ok.Add("passed: " + text);
            }
            else if (withinGrey)
            {
                grey.Add(text);
            }
            else
            {
                hard.Add("failed: " + text);
            }
        }
    }

    private static string Relative(double v) => (v * 100).ToString("+0.0;-0.0;0.0", CultureInfo.InvariantCulture) + " %";

    private static string Pct(double v) => (v * 100).ToString("+0.00;-0.00;0.00", CultureInfo.InvariantCulture) + " pts";
}
