namespace Pipeline.Contracts;

/// <summary>
/// A candidate's one id within its run: the strategy that trains it (a strategy enters a run at most once). Messages
/// carry it as the strategy's name (<c>TrainCandidate.Strategy</c>, <c>CandidateTrained.Strategy</c>,
/// <c>EvaluateCandidate.Strategy</c>, <c>CandidateEvaluated.Strategy</c>, <c>AdaptationStageFailed.Candidate</c>); the
/// model version it produces is a result, known only once it is trained, and never identifies it.
/// </summary>
public readonly record struct CandidateId(string Strategy)
{
    /// <summary>The id a message names, or null where it names none (a one-candidate run).</summary>
    public static CandidateId? Of(string? strategy) => string.IsNullOrEmpty(strategy) ? null : new CandidateId(strategy);

    public override string ToString() => Strategy;
}
