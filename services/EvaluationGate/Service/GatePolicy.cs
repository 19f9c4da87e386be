using System.Globalization;
using Pipeline.Contracts;
using Pipeline.ML.Evaluation;

namespace Pipeline.EvaluationGate;

/// <summary>
/// The promotion decision, on confidence intervals rather than point estimates. A check passes when
/// its whole interval is on the right side of the limit (gain's lower bound ≥ MinGain, forgetting's
/// upper bound ≤ MaxForgetting); it fails when the whole interval is on the wrong side; otherwise the
/// data cannot tell, and the gate asks a person (manual mode) or rejects (auto mode: nobody promised
/// to look, so an unproven candidate does not ship). A class of the original data whose accuracy
/// falls by more than MaxClassDrop, significantly, fails the candidate even when the mean holds.
/// Latency is judged only when the compute changed, on a paired interval.
/// Reasons always carry the numbers.
/// </summary>
public static class GatePolicy
{
    /// <summary>Why the holdouts are too small to decide on, or null when they are large enough.</summary>
    public static string? InsufficientData(int shiftedRows, int originalRows, GateOptions o)
    {
        var needed = o.RequiredRows;
        if (shiftedRows >= needed && originalRows >= needed)
        {
            return null;
        }

        return string.Create(CultureInfo.InvariantCulture,
            $"too little data to decide: shifted holdout {shiftedRows} rows, original holdout {originalRows} rows; " +
            $"±{o.Precision * 100:0.#} pts at {o.Confidence:P0} needs {needed} rows each (Gate:Precision, Gate:ExpectedDiscordance)");
    }

    /// <summary>
    /// Confidence of each class's interval in the collapse rule: Bonferroni over the classes, so that a candidate as
    /// good as the base version on every class is rejected for "a collapsed class" at most 1 − Confidence of the time in all
    /// (the simulation in CollapseRuleSimulationTests measured 16–19 % false rejections on the smallest holdout
    /// with a per-class 95 % level).
    /// </summary>
    public static double ClassConfidence(GateOptions o, int classes) => 1 - (1 - o.Confidence) / Math.Max(1, classes);

    public static (GateDecision Decision, IReadOnlyList<string> Reasons) Decide(GateMeasurements m, GateOptions o)
    {
        var failed = new List<string>();
        var undecided = new List<string>();
        var passed = new List<string>();

        var (gainLow, gainHigh) = m.GainInterval;
        Check(gainLow >= o.MinGain, gainHigh < o.MinGain,
            $"gain on shifted data {Interval(m.Gain, gainLow, gainHigh)} (minimum {Pts(o.MinGain)})");
        var (forgetLow, forgetHigh) = m.ForgettingInterval;
        Check(forgetHigh <= o.MaxForgetting, forgetLow > o.MaxForgetting,
            $"forgetting on original data {Interval(m.Forgetting, forgetLow, forgetHigh)} (maximum {Pts(o.MaxForgetting)})");
        for (var c = 0; c < m.OriginalByClass.Count; c++)
        {
            var k = m.OriginalByClass[c];
            if (k.Count >= o.MinClassRows && -k.Difference > o.MaxClassDrop && k.Upper < 0)
            {
                failed.Add("failed: " + string.Create(CultureInfo.InvariantCulture,
                    $"class {c} collapses on original data: {k.BaselineAccuracy:P1} → {k.CandidateAccuracy:P1} ({k.Count} rows; maximum drop {Pts(o.MaxClassDrop)})"));
            }
        }

        if (m.Latency.Comparison is not { } lat)
        {
            passed.Add(string.Create(CultureInfo.InvariantCulture,
                $"passed: latency not judged: same compute as production (architecture, parameter and buffer shapes, no serving readout added); production {m.Latency.ProductionMs:F2} ms per batch"));
        }
        else
        {
            // Within the absolute tolerance any relative jump is timer noise; otherwise the interval decides.
            var small = lat.MsAfter - lat.MsBefore <= o.LatencyToleranceMs;
            var text = string.Create(CultureInfo.InvariantCulture,
                $"latency {lat.MsBefore:F2} → {lat.MsAfter:F2} ms per batch, {Relative(lat.Increase)} [{Relative(lat.Lower)}, {Relative(lat.Upper)}] over {lat.Pairs} pairs" +
                $"{(m.Latency.Quiet ? "" : " (taken while a candidate trained in this process)")} (maximum {Relative(o.MaxLatencyIncrease)}; compute changed: {string.Join("; ", m.Latency.ComputeChanges.Take(3))})");
            Check(small || lat.Upper <= o.MaxLatencyIncrease, !small && lat.Lower > o.MaxLatencyIncrease, text);
        }

        if (failed.Count > 0)
        {
            return (GateDecision.Reject, failed.Concat(undecided).ToList());
        }

        if (undecided.Count > 0)
        {
            return o.Mode == GateMode.Manual
                ? (GateDecision.AskOperator, undecided.Concat(passed).ToList())
                : (GateDecision.Reject, undecided.Prepend("auto mode rejects what the data cannot prove").Concat(passed).ToList());
        }

        return o.Mode == GateMode.Auto
            ? (GateDecision.Approve, passed)
            : (GateDecision.AskOperator, passed.Prepend("manual mode: every candidate needs an operator").ToList());

        void Check(bool passes, bool fails, string text)
        {
            if (passes)
            {
                passed.Add("passed: " + text);
            }
            else if (fails)
            {
                failed.Add("failed: " + text);
            }
            else
            {
                undecided.Add("undecided, the interval straddles the limit: " + text);
            }
        }
    }

    private static string Interval(double estimate, double low, double high) =>
        string.Create(CultureInfo.InvariantCulture, $"{Pts(estimate)} [{low * 100:0.00}, {high * 100:0.00}]");

    private static string Relative(double v) => (v * 100).ToString("+0.0;-0.0;0.0", CultureInfo.InvariantCulture) + " %";

    private static string Pts(double v) => (v * 100).ToString("+0.00;-0.00;0.00", CultureInfo.InvariantCulture) + " pts";
}
