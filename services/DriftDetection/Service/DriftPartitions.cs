using MassTransit;
using Microsoft.Extensions.Options;
using Pipeline.Contracts;
using Pipeline.Hosting;

namespace Pipeline.DriftDetection;

/// <summary>
/// DriftDetection:Partitions ≥ 1 on RabbitMQ: the model-scoped messages (ObservationsIngested, LabelsObserved,
/// AdaptationRunStarted, AdaptationRunFinished) reach N partition queues through a consistent-hash exchange
/// that hashes the model id (the routing key every publisher sets, <see cref="ModelRoutingKeys"/>). Each
/// queue has a single active consumer: every replica consumes every partition, the broker delivers each
/// partition to one replica at a time, in order, one message at a time, and hands it to another replica
/// when that one's connection drops. The replica that takes a model over rebuilds its window from storage
/// (<see cref="MonitorRegistry"/>). Partitions = 0: the default endpoints, as with a single replica.
/// </summary>
public sealed class DriftPartitions(IOptions<DriftDetectionOptions> options) : IRabbitMqEndpointContributor
{
    public static string ExchangeName(string? prefix) => Prefixed(prefix, "drift-detection-partitions");

    public static string QueueName(string? prefix, int partition) => Prefixed(prefix, $"drift-detection-partition-{partition}");

    private static string Prefixed(string? prefix, string name) => string.IsNullOrEmpty(prefix) ? name : $"{prefix}-{name}";

    public void Configure(IBusRegistrationContext context, IRabbitMqBusFactoryConfigurator cfg, MessagingOptions messaging)
    {
        int partitions = options.Value.Partitions;
        if (partitions == 0)
        {
            return;
        }

        var sources = new[]
        {
            cfg.MessageTopology.GetMessageTopology<ObservationsIngested>().EntityName,
            cfg.MessageTopology.GetMessageTopology<LabelsObserved>().EntityName,
            cfg.MessageTopology.GetMessageTopology<AdaptationRunStarted>().EntityName,
            cfg.MessageTopology.GetMessageTopology<AdaptationRunFinished>().EntityName,
        };
        for (var p = 0; p < partitions; p++)
        {
            cfg.ReceiveEndpoint(QueueName(messaging.EndpointPrefix, p), e =>
            {
                e.SingleActiveConsumer = true;
                e.PrefetchCount = Math.Max(2, messaging.PrefetchCount);
                e.ConcurrentMessageLimit = 1;
                if (partitions > 1)
                {
                    // Bound through the hash exchange only: a direct binding would give every partition every message.
                    // One partition needs no hashing (nor the plugin): the message exchanges are bound to it directly.
                    e.ConfigureConsumeTopology = false;
                    e.Bind(ExchangeName(messaging.EndpointPrefix), x =>
                    {
                        x.ExchangeType = "x-consistent-hash";
                        x.RoutingKey = "1"; // the partition's weight
                        foreach (var source in sources)
                        {
                            x.Bind(source);
                        }
                    });
                }

                e.ConfigureConsumer<ObservationsIngestedConsumer>(context);
                e.ConfigureConsumer<LabelsObservedConsumer>(context);
                e.ConfigureConsumer<AdaptationRunStartedConsumer>(context);
                e.ConfigureConsumer<AdaptationRunFinishedConsumer>(context);
            });
        }
    }
}
