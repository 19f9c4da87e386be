using Microsoft.Extensions.Options;
using Pipeline.Contracts;

namespace Pipeline.AdaptationRuns;

/// <summary>
/// The benchmark's evidence table the policy reads: Tournament:EvidenceFile when set, otherwise the table shipped in
/// this assembly (docs/results/strategy-evidence.json at build time).
/// </summary>
public sealed class StrategyEvidence(IOptions<TournamentPolicyOptions> options)
{
    private const string Resource = "Pipeline.AdaptationRuns.strategy-evidence.json";
    private readonly Lazy<StrategyEvidenceTable> table = new(() => Load(options.Value.EvidenceFile));

    public IReadOnlyList<EvidenceRow> Rows => table.Value.Rows;

    /// <summary>Reads a table (null path: the shipped one); a bad file throws with the path and the reason.</summary>
    public static StrategyEvidenceTable Load(string? path)
    {
        try
        {
            if (!string.IsNullOrWhiteSpace(path)) return StrategyEvidenceTable.FromJson(File.ReadAllText(path));
            using var stream = typeof(StrategyEvidence).Assembly.GetManifestResourceStream(Resource)
                ?? throw new InvalidDataException($"the shipped evidence table ({Resource}) is missing from the assembly");
            using var reader = new StreamReader(stream);
            return StrategyEvidenceTable.FromJson(reader.ReadToEnd());
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Text.Json.JsonException)
        {
            throw new InvalidDataException($"Tournament:EvidenceFile '{path}': {e.Message}", e);
        }
    }

    /// <summary>Whether the configured table loads (for the options' start-up validation).</summary>
    public static bool Loads(string? path)
    {
        try
        {
            Load(path);
            return true;
        }
        catch (InvalidDataException)
        {
            return false;
        }
    }
}
