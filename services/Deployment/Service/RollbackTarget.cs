using Pipeline.Storage.Repositories;

namespace Pipeline.Deployment;

/// <summary>
/// Where a rollback may go, read from the production alias history (newest first), which records why each
/// version left production. "Back" means back to the last good version: the most recent version, other than
/// the current one, that served production and was never rolled back as bad.
/// </summary>
public sealed class RollbackTarget(IReadOnlyList<ProductionAliasChange> history)
{
    /// <summary>Versions that left production through a rollback.</summary>
    public IReadOnlySet<int> RolledBackAsBad { get; } = history
        .Where(h => h.Kind == AliasChangeKind.Rollback && h.FromVersion is not null)
        .Select(h => h.FromVersion!.Value).ToHashSet();

    public bool ServedProduction(int version) => history.Any(h => h.ToVersion == version);

    /// <summary>The last good version before <paramref name="current"/>, or null when there is none.</summary>
    public int? LastGood(int current) => history
        .Select(h => (int?)h.ToVersion)
        .FirstOrDefault(v => v != current && !RolledBackAsBad.Contains(v!.Value));
}
