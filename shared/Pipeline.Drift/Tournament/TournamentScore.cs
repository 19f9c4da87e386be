using System.Globalization;

namespace Pipeline.Drift.Tournament;

/// <summary>Weights of the tournament score (points of accuracy a unit of each cost is worth).</summary>
public sealed class TournamentScoreOptions
{
    /// <summary>Per point of forgetting's upper bound above zero.</summary>
    public double Forgetting { get; set; } = 1.0;

    /// <summary>Per 100 % latency increase (0.02: a model twice as slow must gain 2 points more).</summary>
    public double Latency { get; set; } = 0.02;

    /// <summary>Per minute of training (0.002: a minute of training costs 0.2 points).</summary>
    public double CostPerMinute { get; set; } = 0.002;
}

/// <summary>What the gate measured for one candidate, and whether it passed the gate on its own.</summary>
public sealed record CandidateMeasurement(
    string Strategy, bool Passed, double GainLower, double ForgettingUpper, double LatencyIncrease, double TrainSeconds);

/// <summary>One candidate's place in the verdict.</summary>
public sealed record CandidateVerdict(string Strategy, double Score, bool Won, string Reason);

/// <summary>The winner (null when no candidate passed) and every candidate's score and reason.</summary>
public sealed record TournamentVerdict(string? Winner, IReadOnlyList<CandidateVerdict> Candidates);

/// <summary>
/// score = gain lower bound − w_f · max(0, forgetting upper bound) − w_l · max(0, latency increase) − w_c · training minutes.
/// The bounds are the gate's paired intervals on the same holdouts, so the score ranks what the data can prove,
/// not a lucky point estimate. Only candidates that passed the gate on their own can win; ties go to the cheaper.
/// </summary>
public static class TournamentScore
{
    public static double Of(CandidateMeasurement m, TournamentScoreOptions w)
    {
        ArgumentNullException.ThrowIfNull(m);
        ArgumentNullException.ThrowIfNull(w);
        return m.GainLower - w.Forgetting * Math.Max(0, m.ForgettingUpper) - w.Latency * Math.Max(0, m.LatencyIncrease)
            - w.CostPerMinute * m.TrainSeconds / 60;
    }

    public static TournamentVerdict Decide(IReadOnlyList<CandidateMeasurement> measured, TournamentScoreOptions w)
    {
        ArgumentNullException.ThrowIfNull(measured);
        var scored = measured.Select(m => (M: m, Score: Of(m, w))).ToList();
        var winner = scored.Where(s => s.M.Passed).OrderByDescending(s => s.Score).ThenBy(s => s.M.TrainSeconds).Select(s => s.M).FirstOrDefault();
        var best = winner is null ? 0 : Of(winner, w);
        var verdicts = scored.Select(s => new CandidateVerdict(s.M.Strategy, s.Score, ReferenceEquals(s.M, winner), Reason(s.M, s.Score))).ToList();
        return new TournamentVerdict(winner?.Strategy, verdicts);

        string Reason(CandidateMeasurement m, double score)
        {
            var parts = string.Create(CultureInfo.InvariantCulture,
                $"score {Pts(score)} = gain ≥ {Pts(m.GainLower)} − forgetting ≤ {Pts(Math.Max(0, m.ForgettingUpper))}·{w.Forgetting:0.##}" +
                $" − latency {m.LatencyIncrease * 100:+0;-0;0} %·{w.Latency:0.###} − {m.TrainSeconds:0.#} s training·{w.CostPerMinute:0.####}/min");
            if (ReferenceEquals(m, winner))
            {
                return $"won: best score of the candidates that passed the gate ({parts})";
            }

            return m.Passed
                ? string.Create(CultureInfo.InvariantCulture, $"lost: passed the gate, but {parts} < winner {winner!.Strategy}'s {Pts(best)}")
                : $"lost: did not pass the gate ({parts})";
        }
    }

    private static string Pts(double v) => (v * 100).ToString("+0.00;-0.00;0.00", CultureInfo.InvariantCulture) + " pts";
}
