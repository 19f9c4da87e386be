using System.Diagnostics;
using Dapper;
using Pipeline.Storage.Data;
using Pipeline.Storage.Sql;

namespace Pipeline.Storage.Health;

/// <summary>Result of a database health check.</summary>
/// <param name="Healthy">True when <c>SELECT 1</c> succeeded.</param>
/// <param name="Provider">The configured provider.</param>
/// <param name="Elapsed">How long the check took.</param>
/// <param name="Error">The error message when unhealthy.</param>
public sealed record DatabaseHealthResult(bool Healthy, StorageProvider Provider, TimeSpan Elapsed, string? Error);

/// <summary>Database reachability check (plain method; wrap it in an ASP.NET health check if needed).</summary>
public interface IDatabaseHealth
{
    /// <summary>Opens a connection and runs <c>SELECT 1</c>. Never throws for database errors.</summary>
    Task<DatabaseHealthResult> CheckAsync(CancellationToken cancellationToken = default);
}

[SqlQueries]
internal static class HealthSql
{
    public static readonly SqlQuery Ping = new("health.ping", "SELECT 1;", "SELECT 1;");
}

/// <summary>Default <see cref="IDatabaseHealth"/>.</summary>
public sealed class DatabaseHealth : IDatabaseHealth
{
    private readonly IDbConnectionFactory _factory;

    /// <summary>Creates the check.</summary>
    public DatabaseHealth(IDbConnectionFactory factory) => _factory = factory ?? throw new ArgumentNullException(nameof(factory));

    /// <inheritdoc />
    public async Task<DatabaseHealthResult> CheckAsync(CancellationToken cancellationToken = default)
    {
        var watch = Stopwatch.StartNew();
        try
        {
            await using var connection = await _factory.OpenAsync(cancellationToken).ConfigureAwait(false);
            var one = await connection.ExecuteScalarAsync<int>(new CommandDefinition(HealthSql.Ping.For(_factory.Dialect), cancellationToken: cancellationToken)).ConfigureAwait(false);
            return new DatabaseHealthResult(one == 1, _factory.Provider, watch.Elapsed, one == 1 ? null : $"SELECT 1 returned {one}");
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
#pragma warning disable CA1031 // a health check reports failures instead of throwing
        catch (Exception ex)
#pragma warning restore CA1031
        {
            return new DatabaseHealthResult(false, _factory.Provider, watch.Elapsed, ex.Message);
        }
    }
}
