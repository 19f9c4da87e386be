using MassTransit;
using Microsoft.Extensions.Logging;
using Pipeline.Contracts;
using Prometheus;

namespace Pipeline.Hosting;

/// <summary>
/// Carries out an operator command for the user the broker validated, and answers it when it was sent as a
/// request (pipelinectl): <see cref="CommandAccepted"/> with what happened, or <see cref="CommandRefused"/> with the
/// reason. A command published without a response address (plain AMQP) gets no answer: a refusal goes to the
/// endpoint's error queue with the reason. Either way the refusal is logged with the sender.
/// </summary>
public static class OperatorCommand
{
    private static readonly Counter Outcomes = Metrics.CreateCounter(
        "pipeline_operator_commands_total", "Operator commands by outcome (accepted, refused).", "command", "outcome");

    /// <summary>True when the sender waits for an answer (a MassTransit request).</summary>
    public static bool IsRequest(ConsumeContext context) => context.RequestId is not null && context.ResponseAddress is not null;

    /// <param name="action">Runs with the sender's name; returns what happened, for the operator. Throws <see cref="CommandRejectedException"/> to refuse.</param>
    public static async Task HandleAsync<T>(ConsumeContext<T> context, RoleOptions roles, OperatorRole role, ILogger logger, Func<string, Task<string>> action)
        where T : class
    {
        var command = typeof(T).Name;
        string? user = null;
        try
        {
            user = OperatorRoles.Require(context, roles, role, logger);
            var detail = await action(user);
            Outcomes.WithLabels(command, "accepted").Inc();
            if (IsRequest(context))
            {
                await context.RespondAsync(new CommandAccepted { Command = command, Detail = detail, By = user });
            }
        }
        catch (CommandRejectedException ex)
        {
            Outcomes.WithLabels(command, "refused").Inc();
            if (user is not null)
            {
                // A missing role was logged by the role check already.
                logger.LogWarning("Refused {Command} {MessageId} from {User}: {Reason}", command, context.MessageId, user, ex.Message);
            }

            if (!IsRequest(context))
            {
                throw;
            }

            await context.RespondAsync(new CommandRefused { Command = command, Reason = ex.Message, By = user ?? OperatorIdentity.Of(context) });
        }
    }

    /// <summary>A query that cannot be answered (unknown run): refused to a requester, an error-queue entry otherwise.</summary>
    public static async Task RefuseQueryAsync<T>(ConsumeContext<T> context, string reason)
        where T : class
    {
        if (!IsRequest(context))
        {
            throw new CommandRejectedException(reason);
        }

        await context.RespondAsync(new CommandRefused { Command = typeof(T).Name, Reason = reason, By = OperatorIdentity.Of(context) });
    }
}
