using System.Globalization;
using System.Security.Claims;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pipeline.Hosting;

namespace Pipeline.Inference;

/// <summary>
/// Who may call the inference routes and how much: the API key scheme (<see cref="ApiKeyAuthenticationHandler"/>),
/// an authorization policy that requires a client, a per-client token bucket and a per-replica concurrency
/// limit on the routes that run the model (ASP.NET Core rate limiting). Health, metrics and OpenAPI stay open.
/// </summary>
public static class InferenceAccess
{
    /// <summary>The authorization policy of every inference route: an authenticated client.</summary>
    public const string ClientPolicy = "inference-client";

    /// <summary>The rate limiting policy of every inference route: a token bucket per client.</summary>
    public const string PerClientRatePolicy = "inference-per-client";

    internal static IServiceCollection AddInferenceAccess(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<InferenceAuthOptions>(configuration, InferenceAuthOptions.Section);
        services.AddValidatedOptions<InferenceLimitOptions>(configuration, InferenceLimitOptions.Section);
        services.AddSingleton<ApiKeyRing>();
        services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        services.AddAuthorizationBuilder()
            .AddPolicy(ClientPolicy, p => p.AddAuthenticationSchemes(ApiKeyAuthenticationHandler.SchemeName).RequireAuthenticatedUser());

        services.AddRateLimiter(_ => { });
        services.AddOptions<RateLimiterOptions>().Configure<IOptions<InferenceLimitOptions>>((o, limits) =>
        {
            var l = limits.Value;
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.AddPolicy(PerClientRatePolicy, http => RateLimitPartition.GetTokenBucketLimiter(PartitionOf(http), _ => new TokenBucketRateLimiterOptions
            {
                TokenLimit = l.Burst,
                TokensPerPeriod = l.RequestsPerSecond,
                ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                QueueLimit = 0,
                AutoReplenishment = true,
            }));

            // One concurrency limiter for the routes that run the model, shared by all clients of this replica.
            o.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(http =>
                http.GetEndpoint()?.Metadata.GetMetadata<InferenceRoute>() is { RunsModel: true }
                    ? RateLimitPartition.GetConcurrencyLimiter("model", _ => new ConcurrencyLimiterOptions
                    {
                        PermitLimit = l.PredictConcurrency,
                        QueueLimit = l.PredictQueue,
                        QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
                    })
                    : RateLimitPartition.GetNoLimiter("open"));
            o.OnRejected = (context, ct) => OnRejectedAsync(context, l, ct);
        });
        return services;
    }

    /// <summary>
    /// Authentication, then rate limits, then authorization: unauthenticated callers are limited per
    /// address before their 401, so guessing keys is throttled too.
    /// </summary>
    internal static void UseInferenceAccess(this WebApplication app)
    {
        app.UseAuthentication();
        app.UseRateLimiter();
        app.UseAuthorization();
    }

    /// <summary>The authenticated client of the request (<see cref="ApiKeyAuthenticationHandler.AnonymousClient"/> when auth is off).</summary>
    public static string ClientId(HttpContext http) =>
        http.User.FindFirstValue(ClaimTypes.NameIdentifier) ?? ApiKeyAuthenticationHandler.AnonymousClient;

    private static string PartitionOf(HttpContext http) =>
        http.User.Identity?.IsAuthenticated == true
            ? "client:" + ClientId(http)
            : "unauthenticated:" + (http.Connection.RemoteIpAddress?.ToString() ?? "unknown");

    private static async ValueTask OnRejectedAsync(OnRejectedContext context, InferenceLimitOptions l, CancellationToken ct)
    {
        var http = context.HttpContext;
        var endpoint = InferenceRoute.LabelOf(http);
        string detail, limit;
        TimeSpan retryAfter;
        if (context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait))
        {
            // Only the token bucket says when a permit comes back.
            limit = "rate";
            retryAfter = wait;
            detail = $"Too many requests from client '{ClientId(http)}': at most {l.RequestsPerSecond} per second " +
                     $"(bursts of {l.Burst}). Retry after {Seconds(retryAfter)} s.";
        }
        else
        {
            limit = "concurrency";
            retryAfter = TimeSpan.FromSeconds(l.BusyRetryAfterSeconds);
            detail = $"This replica is running its limit of {l.PredictConcurrency} predictions with {l.PredictQueue} waiting. " +
                     $"Retry after {Seconds(retryAfter)} s.";
        }

        InferenceMetrics.LimitRejections.WithLabels(endpoint, limit).Inc();
        http.Response.Headers.RetryAfter = Seconds(retryAfter);
        var logger = http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(InferenceAccess));
        await ApiKeyAuthenticationHandler.WriteProblemAsync(http, StatusCodes.Status429TooManyRequests, "Too many requests", detail, logger);
    }

    internal static string Seconds(TimeSpan t) =>
        Math.Max(1, (long)Math.Ceiling(t.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
}
