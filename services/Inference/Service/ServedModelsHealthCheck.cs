using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Pipeline.Inference;

/// <summary>
/// Readiness: unhealthy until the start-up pass has loaded, verified and warmed up (one forward at serving batch size)
/// every production model the registry lists, so no request meets a cold model; then healthy, naming what serves.
/// A model with no production version yet does not hold readiness back (it answers 503 until deployed).
/// </summary>
public sealed class ServedModelsHealthCheck(ServedModels models) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!models.StartupLoaded)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy("loading and warming up the production models"));
        }

        var serving = models.All.Select(m => m.Current).Where(c => c is not null).Select(c => $"{c!.ModelId} v{c.Version}").Order(StringComparer.Ordinal);
        return Task.FromResult(HealthCheckResult.Healthy($"serving {string.Join(", ", serving.DefaultIfEmpty("no model yet"))}"));
    }
}
