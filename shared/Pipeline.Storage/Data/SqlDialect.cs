namespace Pipeline.Storage.Data;

/// <summary>The SQL dialect a statement is written in.</summary>
public enum SqlDialect
{
    /// <summary>SQLite 3.35+ (RETURNING, ON CONFLICT, partial indexes).</summary>
    Sqlite = 0,

    /// <summary>SQL Server 2022 / T-SQL 160.</summary>
    SqlServer = 1,
}
