using MassTransit;

namespace Pipeline.Hosting;

/// <summary>
/// Who sent an operator command. On RabbitMQ it is the AMQP user_id property, which the broker
/// validates against the connection's user, so it cannot be forged by the sender. On the in-memory
/// transport (one trusted process) the "Pipeline-Operator" header is used. Null when unknown.
/// </summary>
public static class OperatorIdentity
{
    public const string InMemoryHeader = "Pipeline-Operator";

    public static string? Of(ConsumeContext context)
    {
        if (context.ReceiveContext.TryGetPayload<RabbitMqBasicConsumeContext>(out var amqp))
        {
            var user = amqp.Properties.UserId;
            return string.IsNullOrWhiteSpace(user) ? null : user;
        }

        return context.Headers.Get<string>(InMemoryHeader);
    }
}

/// <summary>
/// A well-formed command that cannot be carried out (unknown run, nothing to roll back, operator not
/// allowed). Not retried: it goes to the error queue with this message as the reason.
/// </summary>
public sealed class CommandRejectedException(string message) : Exception(message);
