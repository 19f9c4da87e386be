using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Pipeline.Storage.Health;

/// <summary>
/// The host's "database" readiness check over <see cref="IDatabaseHealth"/>: healthy with the provider and the
/// round trip, unhealthy with the provider and the error.
/// </summary>
public sealed class DatabaseHealthCheck(IDatabaseHealth database) : IHealthCheck
{
    /// <summary>The check's name in /health/ready.</summary>
    public const string Name = "database";

    /// <summary>The readiness tag the service defaults (Pipeline.Hosting) serve on /health/ready.</summary>
    public const string ReadyTag = "ready";

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var result = await database.CheckAsync(cancellationToken);
        var description = $"{result.Provider} in {result.Elapsed.TotalMilliseconds:F0} ms";
        return result.Healthy
            ? HealthCheckResult.Healthy(description)
            : HealthCheckResult.Unhealthy($"{result.Provider}: {result.Error}");
    }
}
