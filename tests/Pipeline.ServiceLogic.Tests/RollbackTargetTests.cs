using Pipeline.Deployment;
using Pipeline.Storage.Repositories;

namespace Pipeline.ServiceLogic.Tests;

/// <summary>"Back" is the last good version: never one that was rolled back as bad.</summary>
public class RollbackTargetTests
{
    private static ProductionAliasChange Change(int? from, int to, AliasChangeKind kind) =>
        new() { ModelId = "m", FromVersion = from, ToVersion = to, Kind = kind, ChangedBy = "x" };

    [Fact]
    public void After_a_rollback_the_next_one_skips_the_version_rolled_back_as_bad()
    {
        // v1 → v2 → v3 deployed, then v3 rolled back to v2 (newest first).
        var history = new[]
        {
            Change(3, 2, AliasChangeKind.Rollback), Change(2, 3, AliasChangeKind.Deploy), Change(1, 2, AliasChangeKind.Deploy), Change(null, 1, AliasChangeKind.Set),
        };
        var target = new RollbackTarget(history);
        Assert.Equal(1, target.LastGood(current: 2));
        Assert.Equal([3], target.RolledBackAsBad);
    }

    [Fact]
    public void With_only_bad_versions_behind_there_is_no_target()
    {
        var history = new[] { Change(2, 1, AliasChangeKind.Rollback), Change(1, 2, AliasChangeKind.Deploy), Change(null, 1, AliasChangeKind.Set) };
        Assert.Null(new RollbackTarget(history).LastGood(current: 1));
    }

    [Fact]
    public void The_most_recent_good_version_wins_and_versions_that_never_served_do_not_count()
    {
        // v1 → v4 (deploy), v4 → v5 (deploy): v2 and v3 never served.
        var history = new[] { Change(4, 5, AliasChangeKind.Deploy), Change(1, 4, AliasChangeKind.Deploy), Change(null, 1, AliasChangeKind.Set) };
        var target = new RollbackTarget(history);
        Assert.Equal(4, target.LastGood(current: 5));
        Assert.False(target.ServedProduction(3));
        Assert.True(target.ServedProduction(1));
    }
}
