using MassTransit;

namespace Pipeline.Hosting;

/// <summary>
/// Who sent an operator command. On RabbitMQ it is the AMQP user_id property, which the broker
/// validates against the connection's user, and only when the command was published to its command
/// exchange (<c>Pipeline.Contracts:ApproveCandidate</c> …), which only operators may write
/// (infra/rabbitmq/permissions.sh). Service users are impersonators (they move a refused command to an
/// error queue with its user_id intact) and may write their own queues' exchanges, so a command that
/// arrived any other way (a queue's exchange, the default exchange) has no trusted sender and is refused.
/// On the in-memory transport (one trusted process) the "Pipeline-Operator" header is used. Null when unknown.
/// </summary>
public static class OperatorIdentity
{
    public const string InMemoryHeader = "Pipeline-Operator";

    /// <summary>The exchanges operators may write: a command's user_id is trusted only when it was published to one of them.</summary>
    public static readonly IReadOnlySet<string> CommandExchanges = new HashSet<string>(StringComparer.Ordinal)
    {
        "Pipeline.Contracts:ApproveCandidate", "Pipeline.Contracts:RejectCandidate", "Pipeline.Contracts:RollbackModel",
        "Pipeline.Contracts:PauseAdaptation", "Pipeline.Contracts:ResumeAdaptation", "Pipeline.Contracts:StartAdaptation",
        "Pipeline.Contracts:RegisterModel", "Pipeline.Contracts:ListModels", "Pipeline.Contracts:ListRuns", "Pipeline.Contracts:GetRun",
    };

    public static string? Of(ConsumeContext context)
    {
        if (context.ReceiveContext.TryGetPayload<RabbitMqBasicConsumeContext>(out var amqp))
        {
            var user = amqp.Properties.UserId;
            return string.IsNullOrWhiteSpace(user) || !CommandExchanges.Contains(amqp.Exchange ?? "") ? null : user;
        }

        return context.Headers.Get<string>(InMemoryHeader);
    }
}

/// <summary>
/// A well-formed command that cannot be carried out (unknown run, nothing to roll back, operator not
/// allowed). Not retried: it goes to the error queue with this message as the reason.
/// </summary>
public sealed class CommandRejectedException(string message) : Exception(message);
