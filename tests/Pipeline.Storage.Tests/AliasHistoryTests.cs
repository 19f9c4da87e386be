using Dapper;
using Microsoft.Data.Sqlite;
using Pipeline.Storage.Data;
using Pipeline.Storage.Migrations;
using Pipeline.Storage.Repositories;

namespace Pipeline.Storage.Tests;

/// <summary>The production alias history records why each version left production (migration 0060).</summary>
public sealed class AliasHistoryTests
{
    private static ModelVersionRecord Version(string modelId, int version) => new()
    {
        ModelId = modelId, Version = version, ArtifactUri = $"artifact://models/{modelId}/{version}/model.bin", Sha256 = new string('a', 64),
        Architecture = "mlp", InputShape = [784], Classes = ["a", "b"], CreatedBy = "tester",
    };

    [Fact]
    public async Task Each_alias_change_records_what_moved_it()
    {
        using var db = await TestDatabase.CreateAsync();
        var registry = new ModelRegistry(db.Factory);
        foreach (var v in new[] { 1, 2, 3 })
        {
            await registry.RegisterVersionAsync(Version("m", v));
        }

        await registry.SetProductionAsync("m", 1, "seed", "initial");
        Assert.True(await registry.TryMoveProductionAsync("m", 1, 2, AliasChangeKind.Deploy, "gate", "run 1"));
        Assert.False(await registry.TryMoveProductionAsync("m", 1, 3, AliasChangeKind.Deploy, "gate", "stale"));
        Assert.True(await registry.TryMoveProductionAsync("m", 2, 1, AliasChangeKind.Rollback, "alice", "v2 regressed"));
        Assert.True(await registry.TrySetProductionAsync("m", 1, 3, "tests"));

        var history = await registry.GetProductionHistoryAsync("m");
        Assert.Equal(
            new (int?, int, AliasChangeKind)[]
            {
                (1, 3, AliasChangeKind.Set), (2, 1, AliasChangeKind.Rollback), (1, 2, AliasChangeKind.Deploy), (null, 1, AliasChangeKind.Set),
            },
            history.Select(h => (h.FromVersion, h.ToVersion, h.Kind)));
    }

    [Fact]
    public async Task The_database_refuses_an_unknown_change_kind()
    {
        using var db = await TestDatabase.CreateAsync();
        var registry = new ModelRegistry(db.Factory);
        await registry.RegisterVersionAsync(Version("m", 1));
        await using var c = await db.Factory.OpenAsync();
        await Assert.ThrowsAsync<SqliteException>(() => c.ExecuteAsync(
            "INSERT INTO production_alias_history (model_id, from_version, to_version, changed_at, changed_by, change_kind) VALUES ('m', NULL, 1, 't', 'x', 'Whatever')"));
    }

    [Fact]
    public async Task Migration_0060_classifies_earlier_history_from_the_deployments_audit()
    {
        using var db = TestDatabase.CreateEmpty();
        var scripts = MigrationScripts.For(SqlDialect.Sqlite);
        await using (var c = await db.Factory.OpenAsync())
        {
            foreach (var script in scripts.Where(s => s.Version < 60))
            {
                await c.ExecuteAsync(script.Sql);
            }

            await c.ExecuteAsync("INSERT INTO models (model_id, created_at) VALUES ('m', 't')");
            foreach (var v in new[] { 1, 2 })
            {
                await c.ExecuteAsync(
                    "INSERT INTO model_versions (model_id, version, artifact_uri, sha256, architecture, input_shape, classes, params_total, created_at, created_by) " +
                    "VALUES ('m', @v, 'u', 's', 'a', '[]', '[]', 0, 't', 'x')", new { v });
            }

            await c.ExecuteAsync("""
                INSERT INTO production_alias_history (model_id, from_version, to_version, changed_at, changed_by) VALUES
                    ('m', NULL, 1, '2026-01-01T00:00:01+00:00', 'seed'), ('m', 1, 2, '2026-01-01T00:00:02+00:00', 'gate'), ('m', 2, 1, '2026-01-01T00:00:03+00:00', 'alice');
                INSERT INTO deployments (model_id, version, previous_version, kind, deployed_by, deployed_at) VALUES
                    ('m', 2, 1, 'Deploy', 'gate', '2026-01-01T00:00:02+00:00'), ('m', 1, 2, 'Rollback', 'alice', '2026-01-01T00:00:03+00:00');
                """);
            await c.ExecuteAsync(scripts.Single(s => s.Version == 60).Sql);
        }

        var history = await new ModelRegistry(db.Factory).GetProductionHistoryAsync("m");
        Assert.Equal(new[] { AliasChangeKind.Rollback, AliasChangeKind.Deploy, AliasChangeKind.Set }, history.Select(h => h.Kind));
    }
}
