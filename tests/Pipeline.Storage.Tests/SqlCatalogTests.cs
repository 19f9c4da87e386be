using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using Microsoft.SqlServer.TransactSql.ScriptDom;
using Pipeline.Storage.Data;
using Pipeline.Storage.Migrations;
using Pipeline.Storage.Sql;

namespace Pipeline.Storage.Tests;

public sealed partial class SqlCatalogTests
{
    public static TheoryData<string> QueryIds()
    {
        var data = new TheoryData<string>();
        foreach (var q in SqlCatalog.All)
        {
            data.Add(q.Id);
        }

        return data;
    }

    public static TheoryData<string> SqlServerMigrations()
    {
        var data = new TheoryData<string>();
        foreach (var m in MigrationScripts.For(SqlDialect.SqlServer))
        {
            data.Add(m.Name);
        }

        return data;
    }

    [Fact]
    public void Catalog_finds_every_repository_area_and_ids_are_unique()
    {
        var ids = SqlCatalog.All.Select(q => q.Id).ToList();
        Assert.Equal(ids.Count, ids.Distinct(StringComparer.Ordinal).Count());
        Assert.True(ids.Count >= 40, $"only {ids.Count} queries found");
        foreach (var area in new[] { "migrations.", "models.", "model_versions.", "production_aliases.", "production_alias_history.", "drift_reference_profiles.", "drift_reports.", "adaptation_runs.", "adaptation_run_history.", "sensitivity_masks.", "evaluations.", "approvals.", "deployments.", "observation_batches.", "adaptation_pauses.", "health." })
        {
            Assert.Contains(ids, id => id.StartsWith(area, StringComparison.Ordinal));
        }
    }

    [Theory]
    [MemberData(nameof(QueryIds))]
    public void Every_query_has_both_dialects(string id)
    {
        var query = SqlCatalog.Get(id);
        Assert.False(string.IsNullOrWhiteSpace(query.SqlServer), $"{id}: SQL Server text missing");
        Assert.False(string.IsNullOrWhiteSpace(query.Sqlite), $"{id}: SQLite text missing");
        Assert.Same(query.SqlServer, query.For(SqlDialect.SqlServer));
        Assert.Same(query.Sqlite, query.For(SqlDialect.Sqlite));
        // Same parameters in both dialects (SQL Server-only lock arguments excepted).
        if (!id.StartsWith("migrations.", StringComparison.Ordinal))
        {
            Assert.Equal(Parameters(query.SqlServer), Parameters(query.Sqlite));
        }
    }

    [Theory]
    [MemberData(nameof(QueryIds))]
    public void Every_sql_server_query_parses_with_scriptdom(string id)
    {
        var fragment = ParseTSql(SqlCatalog.Get(id).SqlServer, id);
        var tables = TablesOf(fragment);
        var known = SqlServerTables();
        foreach (var table in tables)
        {
            Assert.True(known.Contains(table), $"{id} references table {table}, which no SQL Server migration creates");
        }
    }

    [Theory]
    [MemberData(nameof(SqlServerMigrations))]
    public void Every_sql_server_migration_parses_with_scriptdom(string name)
    {
        var script = MigrationScripts.For(SqlDialect.SqlServer).Single(s => s.Name == name);
        Assert.NotEmpty(script.Batches);
        foreach (var batch in script.Batches)
        {
            ParseTSql(batch, name);
        }

        ParseTSql(script.Sql, name);
    }

    [Fact]
    public void ScriptDom_check_can_fail()
    {
        var parser = new TSql160Parser(initialQuotedIdentifiers: true);
        parser.Parse(new StringReader("SELECT TOP FROM dbo.models LIMIT 5;"), out var errors);
        Assert.NotEmpty(errors);
        parser.Parse(new StringReader("SELECT row_count AS RowCount FROM dbo.drift_reports;"), out errors);
        Assert.NotEmpty(errors);
    }

    [Fact]
    public async Task Every_sqlite_query_prepares_against_the_migrated_schema()
    {
        using var db = await TestDatabase.CreateAsync();
        await using var connection = (SqliteConnection)await db.Factory.OpenAsync();
        foreach (var query in SqlCatalog.All)
        {
            await using var command = connection.CreateCommand();
            command.CommandText = query.Sqlite;
            try
            {
                // sqlite3_prepare_v2 checks syntax, tables and columns of every statement.
                command.Prepare();
            }
            catch (SqliteException ex)
            {
                Assert.Fail($"{query.Id}: {ex.Message}");
            }
        }
    }

    private static TSqlFragment ParseTSql(string sql, string what)
    {
        var parser = new TSql160Parser(initialQuotedIdentifiers: true);
        var fragment = parser.Parse(new StringReader(sql), out var errors);
        Assert.True(errors.Count == 0, $"{what}: " + string.Join("; ", errors.Select(e => $"line {e.Line}: {e.Message}")));
        return fragment;
    }

    private static HashSet<string> TablesOf(TSqlFragment fragment)
    {
        var visitor = new TableVisitor();
        fragment.Accept(visitor);
        return visitor.Tables;
    }

    private static HashSet<string> SqlServerTables()
    {
        var visitor = new TableVisitor();
        foreach (var script in MigrationScripts.For(SqlDialect.SqlServer))
        {
            ParseTSql(script.Sql, script.Name).Accept(visitor);
        }

        ParseTSql(MigrationSql.EnsureVersionsTable.SqlServer, "schema_versions").Accept(visitor);
        return visitor.Created;
    }

    private static SortedSet<string> Parameters(string sql) =>
        new(ParameterRegex().Matches(sql).Select(m => m.Value.ToUpperInvariant()).Where(p => !p.StartsWith("@@", StringComparison.Ordinal)), StringComparer.Ordinal);

    [GeneratedRegex(@"@@?[A-Za-z_][A-Za-z0-9_]*")]
    private static partial Regex ParameterRegex();

    private sealed class TableVisitor : TSqlFragmentVisitor
    {
        public HashSet<string> Tables { get; } = new(StringComparer.OrdinalIgnoreCase);

        public HashSet<string> Created { get; } = new(StringComparer.OrdinalIgnoreCase);

        public override void ExplicitVisit(NamedTableReference node)
        {
            Tables.Add(node.SchemaObject.BaseIdentifier.Value);
            base.ExplicitVisit(node);
        }

        public override void ExplicitVisit(CreateTableStatement node)
        {
            Created.Add(node.SchemaObjectName.BaseIdentifier.Value);
            base.ExplicitVisit(node);
        }
    }
}
