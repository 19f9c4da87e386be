using System.ComponentModel.DataAnnotations;

namespace Pipeline.AdaptationRuns;

/// <summary>
/// "Tuning:Candidates": how many candidates a run trains. One keeps the one-candidate run (the tuner's own
/// Tuning:Strategy); more make a tournament whose entrants the policy (section "Tournament") chooses. Run as many
/// tuner replicas as candidates for them to train in parallel.
/// </summary>
public sealed class TournamentOptions
{
    public const string Section = "Tuning";

    [Range(1, 8)]
    public int Candidates { get; set; } = 1;
}
