using FluentValidation;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pipeline.Contracts.Validation;
using Prometheus;

namespace Pipeline.Hosting;

/// <summary>
/// Service defaults every host calls (the ServiceDefaults pattern): configuration from appsettings
/// and environment variables with validated options, structured logging, /health/live,
/// /health/ready (the broker, and what the modules add: the database, …), /metrics, and MassTransit from
/// configuration. It knows no storage: a module that uses the database registers it and its readiness check.
/// </summary>
public static class PipelineHost
{
    public const string LiveTag = "live";
    public const string ReadyTag = "ready";

    /// <summary>Builds a web host running the given modules. Call <see cref="MapPipelineEndpoints"/> after Build.</summary>
    public static WebApplicationBuilder CreateBuilder(string[] args, params IServiceModule[] modules)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.AddPipelineDefaults(modules);
        return builder;
    }

    public static WebApplicationBuilder AddPipelineDefaults(this WebApplicationBuilder builder, params IServiceModule[] modules)
    {
        builder.Configuration.AddEnvironmentVariables(prefix: "PIPELINE_");
        // Before any module loads a model: libtorch's buffers are malloc'd from here on.
        NativeHeap.Configure(builder.Configuration);
        builder.Services.AddPipelineServices(builder.Configuration, modules);
        return builder;
    }

    /// <summary>Everything except the web endpoints; usable from a plain generic host or a test.</summary>
    public static IServiceCollection AddPipelineServices(
        this IServiceCollection services, IConfiguration configuration, params IServiceModule[] modules)
    {
        services.AddValidatedOptions<MessagingOptions>(configuration, MessagingOptions.Section);
        services.AddOptions<RoleOptions>().Bind(configuration.GetSection(RoleOptions.Section));

        services.TryAddSingleton(TimeProvider.System);
        services.AddValidatorsFromAssemblyContaining<PayloadRefValidator>(ServiceLifetime.Singleton);
        services.AddPipelineTelemetry(configuration, string.Join('+', modules.Select(m => m.Name)));
        services.TryAddSingleton(new HopServiceName(string.Join('+', modules.Select(m => m.Name))));

        // The modules add their readiness checks: the database (Pipeline.Storage's AddServiceStorage), models, ….
        services.AddHealthChecks()
            .AddCheck("self", () => HealthCheckResult.Healthy(), tags: [LiveTag]);

        foreach (var module in modules)
        {
            module.ConfigureServices(services, configuration);
        }

        var messaging = configuration.GetSection(MessagingOptions.Section).Get<MessagingOptions>() ?? new MessagingOptions();
        services.AddMassTransit(x =>
        {
            x.ConfigureUsageTelemetryOptions(t => t.Enabled = messaging.UsageTelemetry);
            x.SetEndpointNameFormatter(new KebabCaseEndpointNameFormatter(messaging.EndpointPrefix, includeNamespace: true));
            x.ConfigureHealthCheckOptions(o =>
            {
                o.Name = "bus";
                o.Tags.Add(ReadyTag);
            });
            foreach (var module in modules)
            {
                module.AddConsumers(x);
            }

            // Nobody subscribes to Fault<T> or ReceiveFault: a faulted message goes to its endpoint's _error queue
            // with the reason, and a requester still gets its fault (sent to its response address). Publishing
            // them would make every service declare and bind the MassTransit:Fault--… exchanges (docs/reliability.md).
            x.AddConfigureEndpointsCallback((_, _, e) => e.PublishFaults = false);

            if (messaging.Transport == TransportKind.RabbitMq)
            {
                x.UsingRabbitMq((context, cfg) =>
                {
                    var o = context.GetRequiredService<IOptions<MessagingOptions>>().Value;
                    cfg.Host(o.Host, (ushort)o.Port, o.VirtualHost, h =>
                    {
                        h.Username(o.Username);
                        h.Password(o.Password);
                        // A publish completes only when the broker has the message.
                        h.PublisherConfirmation = true;
                    });
                    ModelRoutingKeys.Apply(cfg);
                    if (modules.Any(m => m is IAnnouncesRunEvents))
                    {
                        RunEventTopology.Declare(cfg);
                    }

                    ConfigureBus(context, cfg, o);
                    foreach (var contributor in context.GetServices<IRabbitMqEndpointContributor>())
                    {
                        contributor.Configure(context, cfg, o);
                    }
                });
            }
            else
            {
                x.UsingInMemory((context, cfg) =>
                    ConfigureBus(context, cfg, context.GetRequiredService<IOptions<MessagingOptions>>().Value));
            }
        });
        return services;
    }

    private static void ConfigureBus<TEndpoint>(IBusRegistrationContext context, IBusFactoryConfigurator<TEndpoint> cfg, MessagingOptions o)
        where TEndpoint : IReceiveEndpointConfigurator
    {
        // Plain AMQP tools may publish raw JSON (content type application/json) besides the
        // MassTransit envelope; see docs/operations.md.
        cfg.UseRawJsonDeserializer(isDefault: false);
        // Enums travel as names (numbers are still read), so a hand-written command says "Manual", not 1.
        cfg.ConfigureJsonSerializerOptions(json =>
        {
            json.Converters.Add(new System.Text.Json.Serialization.JsonStringEnumConverter());
            return json;
        });
        cfg.UseConsumeFilter(typeof(MetricsFilter<>), context);
        // Hop timing: what is published during a consume says which message it came from and when (HopTiming.cs).
        cfg.UseConsumeFilter(typeof(HopConsumeFilter<>), context);
        cfg.ConfigurePublish(p => p.UseExecute(HopPublishStamp.Write));
        // Nobody subscribes to the marker interfaces: no exchanges for them, so a publisher needs
        // rights on its own message types' exchanges only (infra/rabbitmq/permissions.sh).
        cfg.Publish<Contracts.IPipelineMessage>(p => p.Exclude = true);
        cfg.Publish<Contracts.IRunMessage>(p => p.Exclude = true);
        if (o.Redelivery.IntervalsSeconds.Length > 0)
        {
            cfg.UseDelayedRedelivery(r =>
            {
                r.Intervals(o.Redelivery.IntervalsSeconds.Select(s => TimeSpan.FromSeconds(s)).ToArray());
                r.Ignore<ValidationException>();
                r.Ignore<CommandRejectedException>();
            });
        }

        cfg.UseMessageRetry(r =>
        {
            r.Interval(o.Retry.Limit, TimeSpan.FromMilliseconds(o.Retry.IntervalMilliseconds));
            r.Ignore<ValidationException>();
            r.Ignore<CommandRejectedException>();
        });

        // Events a consumer publishes leave only when it completes: a retried or faulted consumer
        // publishes nothing.
        cfg.UseInMemoryOutbox(context);
        cfg.UseConsumeFilter(typeof(ValidationFilter<>), context);
        cfg.PrefetchCount = o.PrefetchCount;
        if (o.ConcurrentMessageLimit is { } limit)
        {
            cfg.ConcurrentMessageLimit = limit;
        }

        cfg.ConfigureEndpoints(context);
    }

    /// <summary>/health/live, /health/ready and /metrics.</summary>
    public static WebApplication MapPipelineEndpoints(this WebApplication app)
    {
        app.Logger.LogInformation("Native heap: {NativeHeap}", NativeHeap.Outcome);
        app.UseHttpMetrics();
        app.MapHealthChecks("/health/live", new HealthCheckOptions
        {
            Predicate = c => c.Tags.Contains(LiveTag),
            ResponseWriter = WriteHealth,
        });
        app.MapHealthChecks("/health/ready", new HealthCheckOptions
        {
            Predicate = c => c.Tags.Contains(ReadyTag),
            ResponseWriter = WriteHealth,
            // MassTransit reports a bus whose receive endpoint is faulted or stopped as Degraded: such an
            // instance does not consume, so it is not ready (Kubernetes stops routing to it and restarts it).
            ResultStatusCodes =
            {
                [HealthStatus.Healthy] = StatusCodes.Status200OK,
                [HealthStatus.Degraded] = StatusCodes.Status503ServiceUnavailable,
                [HealthStatus.Unhealthy] = StatusCodes.Status503ServiceUnavailable,
            },
        });
        app.MapMetrics("/metrics");
        return app;
    }

    private static Task WriteHealth(HttpContext http, HealthReport report)
    {
        http.Response.ContentType = "application/json";
        return http.Response.WriteAsJsonAsync(new
        {
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(
                e => e.Key,
                e => new { status = e.Value.Status.ToString(), description = e.Value.Description }),
        });
    }

    /// <summary>Runs a single-module service host until it is stopped.</summary>
    public static async Task<int> RunServiceAsync(string[] args, IServiceModule module)
    {
        var builder = CreateBuilder(args, module);
        var app = builder.Build();
        app.MapPipelineEndpoints();
        app.MapGet("/", () => Results.Ok(new { service = module.Name }));
        var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Pipeline.Host");
        app.Lifetime.ApplicationStarted.Register(() => log.LogInformation("{Service} ready", module.Name));
        await app.RunAsync();
        return 0;
    }
}
