using System.Text.Json;
using System.Text.Json.Serialization;
using MassTransit;
using MassTransit.Serialization;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Pipeline.Cli.Commands;

/// <summary>
/// Publishes an operator's command to the exchange its owning service declared, without declaring it. MassTransit
/// declares an exchange before every first publish, which needs the configure permission, and configure also lets
/// a user delete the exchange; operators have none on shared exchanges (infra/rabbitmq/permissions.sh), so the
/// command goes out with the plain client as a MassTransit envelope, confirmed by the broker, with the operator's
/// <c>user_id</c> (which RabbitMQ validates against the connection's user).
/// </summary>
internal static class CommandPublisher
{
    private static readonly Lazy<JsonSerializerOptions> Json = new(() =>
    {
        var options = new JsonSerializerOptions(SystemTextJsonMessageSerializer.Options);
        if (!options.Converters.Any(c => c is JsonStringEnumConverter))
        {
            options.Converters.Add(new JsonStringEnumConverter());
        }

        return options;
    });

    /// <summary>The exchange MassTransit's topology gives a message type (its namespace, a colon, its name).</summary>
    public static string ExchangeOf<T>() => $"{typeof(T).Namespace}:{typeof(T).Name}";

    /// <summary>
    /// Publishes <paramref name="command"/>; with <paramref name="replyTo"/>, as a request whose answer and fault go
    /// to that address with <paramref name="requestId"/>.
    /// </summary>
    /// <exception cref="OperatorException">the exchange is not there (no service has declared it), the user may not write it, or the broker did not confirm.</exception>
    public static async Task PublishAsync<T>(BrokerSettings broker, T command, string service, Uri? replyTo, Guid? requestId, CancellationToken ct)
        where T : class
    {
        var exchange = ExchangeOf<T>();
        var messageId = NewId.NextGuid();
        var envelope = new JsonMessageEnvelope
        {
            MessageId = messageId.ToString(),
            ConversationId = messageId.ToString(),
            RequestId = requestId?.ToString(),
            ResponseAddress = replyTo?.ToString(),
            FaultAddress = replyTo?.ToString(),
            DestinationAddress = $"exchange:{exchange}",
            MessageType = MessageTypeCache<T>.MessageTypeNames,
            Message = command,
            SentTime = DateTime.UtcNow,
            Headers = new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase),
        };
        var body = JsonSerializer.SerializeToUtf8Bytes(envelope, Json.Value);
        var properties = new BasicProperties
        {
            ContentType = SystemTextJsonMessageSerializer.JsonContentType.MediaType,
            MessageId = envelope.MessageId,
            UserId = broker.User,
            Persistent = true,
        };

        var factory = new ConnectionFactory
        {
            HostName = broker.Host, Port = broker.Port, VirtualHost = broker.VirtualHost, UserName = broker.User, Password = broker.Password,
            ClientProvidedName = "pipelinectl-command",
        };
        await using var connection = await factory.CreateConnectionAsync(ct);
        await using var channel = await connection.CreateChannelAsync(
            new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), ct);
        try
        {
            // Mandatory: a command no queue is bound to would be dropped without a word.
            await channel.BasicPublishAsync(exchange, "", mandatory: true, properties, body, ct);
        }
        catch (PublishReturnException)
        {
            throw new OperatorException(
                $"no service answered: no queue takes {exchange}; is {service} running on {broker.Host}:{broker.Port} (virtual host {broker.VirtualHost})?",
                OperatorException.NoAnswer);
        }
        catch (Exception ex) when (ex is OperationInterruptedException or AlreadyClosedException or RabbitMQ.Client.Exceptions.PublishException)
        {
            var code = await ClosedWithAsync(channel);
            throw code switch
            {
                404 => new OperatorException(
                    $"no service answered: {exchange} does not exist on virtual host {broker.VirtualHost}; {service} declares it when it starts: is it running on {broker.Host}:{broker.Port}?",
                    OperatorException.NoAnswer),
                403 => new OperatorException($"access refused: user '{broker.User}' may not write {exchange} (infra/rabbitmq/permissions.sh)", OperatorException.Broker),
                _ => new OperatorException($"RabbitMQ did not take {exchange} from {broker}: {ex.Message}", OperatorException.Broker),
            };
        }
    }

    /// <summary>The AMQP code the broker closed the channel with (a refused publish closes it asynchronously).</summary>
    private static async Task<int> ClosedWithAsync(IChannel channel)
    {
        for (var i = 0; i < 50 && channel.IsOpen; i++)
        {
            await Task.Delay(20);
        }

        return channel.CloseReason?.ReplyCode ?? -1;
    }
}
