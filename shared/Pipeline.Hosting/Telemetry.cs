using MassTransit.Logging;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Pipeline.Hosting;

/// <summary>Section "Telemetry": where traces go.</summary>
public sealed class TelemetryOptions
{
    public const string Section = "Telemetry";

    /// <summary>
    /// OTLP/gRPC endpoint of a trace collector (Jaeger, the OpenTelemetry Collector), e.g.
    /// http://jaeger:4317. Unset: spans are still created (logs carry trace ids) but not exported.
    /// The standard OTEL_EXPORTER_OTLP_ENDPOINT variable works too.
    /// </summary>
    public string? OtlpEndpoint { get; set; }
}

/// <summary>
/// Traces in the service defaults: MassTransit's own activity source (send, publish, consume: the
/// trace context travels in message headers, so one adaptation run is one trace across every
/// service), ASP.NET Core and outgoing HTTP.
/// </summary>
public static class Telemetry
{
    /// <summary>The pipeline's own spans (for example relaying the run owner's outbox inside the run's trace).</summary>
    public static readonly System.Diagnostics.ActivitySource Source = new("Pipeline");

    public static IServiceCollection AddPipelineTelemetry(this IServiceCollection services, IConfiguration configuration, string serviceName)
    {
        var options = configuration.GetSection(TelemetryOptions.Section).Get<TelemetryOptions>() ?? new TelemetryOptions();
        var endpoint = options.OtlpEndpoint is { Length: > 0 } e ? e : configuration["OTEL_EXPORTER_OTLP_ENDPOINT"];
        services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(serviceName))
            .WithTracing(t =>
            {
                t.AddSource(DiagnosticHeaders.DefaultListenerName, Source.Name)
                    .AddAspNetCoreInstrumentation(a => a.Filter = http => !http.Request.Path.StartsWithSegments("/metrics")
                        && !http.Request.Path.StartsWithSegments("/health"))
                    .AddHttpClientInstrumentation();
                if (endpoint is { Length: > 0 })
                {
                    t.AddOtlpExporter(o => o.Endpoint = new Uri(endpoint));
                }
            });
        return services;
    }
}
