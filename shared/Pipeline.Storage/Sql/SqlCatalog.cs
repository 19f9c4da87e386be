using System.Reflection;

namespace Pipeline.Storage.Sql;

/// <summary>
/// Every statement the storage library runs (repositories and the migration runner). Each query
/// lives as a <c>static readonly SqlQuery</c> field on a class marked <see cref="SqlQueriesAttribute"/>;
/// the catalog finds them by reflection, so tests can parse every SQL Server statement and check
/// that every id has both dialects.
/// </summary>
public static class SqlCatalog
{
    private static readonly Lazy<IReadOnlyList<SqlQuery>> AllQueries = new(Discover);

    /// <summary>All queries, ordered by id.</summary>
    public static IReadOnlyList<SqlQuery> All => AllQueries.Value;

    /// <summary>Looks a query up by id.</summary>
    public static SqlQuery Get(string id) =>
        All.FirstOrDefault(q => string.Equals(q.Id, id, StringComparison.Ordinal))
        ?? throw new KeyNotFoundException($"No SQL query with id '{id}'.");

    private static List<SqlQuery> Discover() =>
        typeof(SqlCatalog).Assembly.GetTypes()
            .Where(t => t.GetCustomAttribute<SqlQueriesAttribute>() is not null)
            .SelectMany(t => t.GetFields(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic))
            .Where(f => f.FieldType == typeof(SqlQuery))
            .Select(f => (SqlQuery)f.GetValue(null)!)
            .OrderBy(q => q.Id, StringComparer.Ordinal)
            .ToList();
}

/// <summary>Marks a class whose static <see cref="SqlQuery"/> fields belong to <see cref="SqlCatalog"/>.</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class SqlQueriesAttribute : Attribute;
