using System.Globalization;
using Pipeline.Contracts;
using Pipeline.ML.Evaluation;

namespace Pipeline.EvaluationGate;

/// <summary>
/// Production and candidate measured on the same rows: the shifted holdout, the original-distribution
/// holdout, per class of the original holdout, and latency.
/// </summary>
public sealed record GateMeasurements(
    PairedDifference Shifted, PairedDifference Original, IReadOnlyList<PairedDifference> OriginalByClass,
    double LatencyMsBefore, double LatencyMsAfter)
{
    public double ShiftedBefore => Shifted.BaselineAccuracy;

    public double ShiftedAfter => Shifted.CandidateAccuracy;

    public double OriginalBefore => Original.BaselineAccuracy;

    public double OriginalAfter => Original.CandidateAccuracy;

    public double Gain => Shifted.Difference;

    public (double Lower, double Upper) GainInterval => (Shifted.Lower, Shifted.Upper);

    public double Forgetting => -Original.Difference;

    /// <summary>Forgetting is the negated difference, so its interval is the difference's, negated and swapped.</summary>
    public (double Lower, double Upper) ForgettingInterval => (-Original.Upper, -Original.Lower);

    public double LatencyIncrease => LatencyMsBefore <= 0 ? 0 : (LatencyMsAfter - LatencyMsBefore) / LatencyMsBefore;
}

/// <summary>
/// The promotion decision, on confidence intervals rather than point estimates. A check passes when
/// its whole interval is on the right side of the limit (gain's lower bound ≥ MinGain, forgetting's
/// upper bound ≤ MaxForgetting); it fails when the whole interval is on the wrong side; otherwise the
/// data cannot tell, and the gate asks a person (manual mode) or rejects (auto mode: nobody promised
/// to look, so an unproven candidate does not ship). A class of the original data whose accuracy
/// falls by more than MaxClassDrop, significantly, fails the candidate even when the mean holds.
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

        var latencyOk = m.LatencyIncrease <= o.MaxLatencyIncrease || m.LatencyMsAfter - m.LatencyMsBefore <= o.LatencyToleranceMs;
        Check(latencyOk, !latencyOk,
            $"latency {m.LatencyMsBefore:F2} → {m.LatencyMsAfter:F2} ms per batch, {Relative(m.LatencyIncrease)} (maximum {Relative(o.MaxLatencyIncrease)})");

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
