using Pipeline.Storage.Data;

namespace Pipeline.Storage.Sql;

/// <summary>One logical statement with its text in both dialects.</summary>
/// <param name="Id">Unique id, "area.name".</param>
/// <param name="SqlServer">T-SQL text.</param>
/// <param name="Sqlite">SQLite text.</param>
public sealed record SqlQuery(string Id, string SqlServer, string Sqlite)
{
    /// <summary>The text for a dialect.</summary>
    public string For(SqlDialect dialect) => dialect == SqlDialect.SqlServer ? SqlServer : Sqlite;
}
