using Dapper;
using Microsoft.SqlServer.TransactSql.ScriptDom;
using Pipeline.Storage.Data;
using Pipeline.Storage.Migrations;
using Pipeline.Storage.Sql;

namespace Pipeline.Storage.Tests;

/// <summary>
/// SQL Server cannot run here, so compare what the T-SQL migrations declare (via ScriptDom) with
/// the real SQLite schema, and check every SQL Server query names only declared columns.
/// </summary>
public sealed class SchemaParityTests
{
    private static Dictionary<string, HashSet<string>> SqlServerSchema()
    {
        var visitor = new SchemaVisitor();
        foreach (var script in MigrationScripts.For(SqlDialect.SqlServer))
        {
            Parse(script.Sql).Accept(visitor);
        }

        Parse(MigrationSql.EnsureVersionsTable.SqlServer).Accept(visitor);
        return visitor.Tables;
    }

    private static TSqlFragment Parse(string sql)
    {
        var fragment = new TSql160Parser(initialQuotedIdentifiers: true).Parse(new StringReader(sql), out var errors);
        Assert.Empty(errors);
        return fragment;
    }

    [Fact]
    public async Task Sqlite_and_sql_server_migrations_define_the_same_tables_and_columns()
    {
        using var db = await TestDatabase.CreateAsync();
        await using var c = await db.Factory.OpenAsync();
        var sqliteTables = (await c.QueryAsync<string>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")).ToList();
        var sqlServer = SqlServerSchema();
        Assert.Equal(sqlServer.Keys.Order(StringComparer.Ordinal), sqliteTables.Order(StringComparer.Ordinal));
        foreach (var table in sqliteTables)
        {
            var columns = (await c.QueryAsync<string>($"SELECT name FROM pragma_table_info('{table}')")).ToHashSet(StringComparer.OrdinalIgnoreCase);
            Assert.True(columns.SetEquals(sqlServer[table]), $"{table}: SQLite [{string.Join(", ", columns.Order())}] vs SQL Server [{string.Join(", ", sqlServer[table].Order())}]");
        }

        var sqliteIndexes = (await c.QueryAsync<string>("SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%'")).Order(StringComparer.Ordinal);
        var visitor = new SchemaVisitor();
        foreach (var script in MigrationScripts.For(SqlDialect.SqlServer))
        {
            Parse(script.Sql).Accept(visitor);
        }

        Assert.Equal(visitor.Indexes.Order(StringComparer.Ordinal), sqliteIndexes);
    }

    [Fact]
    public void Every_sql_server_query_uses_only_declared_columns()
    {
        var declared = SqlServerSchema().Values.SelectMany(c => c).ToHashSet(StringComparer.OrdinalIgnoreCase);
        foreach (var query in SqlCatalog.All)
        {
            var visitor = new ColumnVisitor();
            Parse(query.SqlServer).Accept(visitor);
            foreach (var column in visitor.Columns)
            {
                Assert.True(declared.Contains(column), $"{query.Id} references column '{column}' that no SQL Server migration declares");
            }
        }
    }

    private sealed class SchemaVisitor : TSqlFragmentVisitor
    {
        public Dictionary<string, HashSet<string>> Tables { get; } = new(StringComparer.OrdinalIgnoreCase);

        public List<string> Indexes { get; } = [];

        public override void ExplicitVisit(CreateTableStatement node)
        {
            Tables[node.SchemaObjectName.BaseIdentifier.Value] = node.Definition.ColumnDefinitions
                .Select(d => d.ColumnIdentifier.Value).ToHashSet(StringComparer.OrdinalIgnoreCase);
            base.ExplicitVisit(node);
        }

        public override void ExplicitVisit(AlterTableAddTableElementStatement node)
        {
            var table = Tables.TryGetValue(node.SchemaObjectName.BaseIdentifier.Value, out var columns)
                ? columns
                : Tables[node.SchemaObjectName.BaseIdentifier.Value] = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (var d in node.Definition.ColumnDefinitions)
            {
                table.Add(d.ColumnIdentifier.Value);
            }

            base.ExplicitVisit(node);
        }

        public override void ExplicitVisit(CreateIndexStatement node)
        {
            Indexes.Add(node.Name.Value);
            base.ExplicitVisit(node);
        }
    }

    private sealed class ColumnVisitor : TSqlFragmentVisitor
    {
        public HashSet<string> Columns { get; } = new(StringComparer.OrdinalIgnoreCase);

        public override void ExplicitVisit(ColumnReferenceExpression node)
        {
            if (node.ColumnType == ColumnType.Regular && node.MultiPartIdentifier is { Count: > 0 } id)
            {
                Columns.Add(id.Identifiers[^1].Value);
            }

            base.ExplicitVisit(node);
        }
    }
}
