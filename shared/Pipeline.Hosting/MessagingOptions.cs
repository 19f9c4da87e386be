using System.ComponentModel.DataAnnotations;

namespace Pipeline.Hosting;

public enum TransportKind
{
    InMemory,
    RabbitMq,
}

/// <summary>Section "Messaging". Environment variables override it, e.g. Messaging__Transport=RabbitMq.</summary>
public sealed class MessagingOptions : IValidatableObject
{
    public const string Section = "Messaging";

    public TransportKind Transport { get; set; } = TransportKind.InMemory;

    public string Host { get; set; } = "localhost";

    [Range(1, 65535)]
    public int Port { get; set; } = 5672;

    public string VirtualHost { get; set; } = "/";

    public string Username { get; set; } = "guest";

    /// <summary>Never in appsettings: set Messaging__Password in the environment.</summary>
    public string Password { get; set; } = "";

    /// <summary>Messages fetched ahead per consumer. 1 for GPU-bound stages so replicas compete fairly.</summary>
    [Range(1, 1000)]
    public int PrefetchCount { get; set; } = 16;

    /// <summary>Messages processed at once per endpoint; null lets MassTransit use the prefetch count.</summary>
    [Range(1, 1000)]
    public int? ConcurrentMessageLimit { get; set; }

    public RetryOptions Retry { get; set; } = new();

    public RedeliveryOptions Redelivery { get; set; } = new();

    /// <summary>Prefix for endpoint (queue) names, so test runs never share queues with one another.</summary>
    public string? EndpointPrefix { get; set; }

    /// <summary>
    /// MassTransit 8.4+ reports anonymous usage to a third-party host at start-up unless told not to.
    /// A pipeline must not phone home by default (and cannot here: no network), so it is off.
    /// </summary>
    public bool UsageTelemetry { get; set; }

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Transport == TransportKind.RabbitMq && string.IsNullOrWhiteSpace(Host))
        {
            yield return new ValidationResult("Messaging:Host is required for RabbitMq.", [nameof(Host)]);
        }

        if (Transport == TransportKind.RabbitMq && string.IsNullOrEmpty(Password))
        {
            yield return new ValidationResult("Messaging:Password is required for RabbitMq: set Messaging__Password in the environment.", [nameof(Password)]);
        }

        if (Retry.Limit < 0 || Retry.IntervalMilliseconds < 0)
        {
            yield return new ValidationResult("Messaging:Retry values must be >= 0.", [nameof(Retry)]);
        }

        if (Redelivery.IntervalsSeconds.Any(s => s <= 0))
        {
            yield return new ValidationResult("Messaging:Redelivery:IntervalsSeconds must be > 0.", [nameof(Redelivery)]);
        }
    }
}

public sealed class RetryOptions
{
    /// <summary>Immediate in-process retries before a message is faulted to the error queue.</summary>
    public int Limit { get; set; } = 3;

    public int IntervalMilliseconds { get; set; } = 200;
}

/// <summary>
/// Second-level retries: the message goes back to the broker and returns later. Needs the
/// rabbitmq_delayed_message_exchange plugin on RabbitMQ (enabled in the compose image), so it is
/// off unless intervals are configured.
/// </summary>
public sealed class RedeliveryOptions
{
    public int[] IntervalsSeconds { get; set; } = [];
}
