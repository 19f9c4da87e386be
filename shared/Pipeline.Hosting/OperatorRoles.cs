using MassTransit;
using Microsoft.Extensions.Logging;

namespace Pipeline.Hosting;

public enum OperatorRole
{
    /// <summary>Pause, resume and start adaptation; roll back to a version that served well; register models.</summary>
    Operator,

    /// <summary>Approve or reject a candidate; roll back to any version, with a reason. Approvers are also operators.</summary>
    Approver,
}

/// <summary>Section "Roles": RabbitMQ user names per role, matched against the validated AMQP user_id.</summary>
public sealed class RoleOptions
{
    public const string Section = "Roles";

    public List<string> Operators { get; set; } = [];

    public List<string> Approvers { get; set; } = [];

    public bool Has(string user, OperatorRole role) => role switch
    {
        OperatorRole.Approver => Approvers.Contains(user, StringComparer.Ordinal),
        _ => Operators.Contains(user, StringComparer.Ordinal) || Approvers.Contains(user, StringComparer.Ordinal),
    };
}

/// <summary>Every operator command starts here: who sent it (validated user_id) and may they.</summary>
public static class OperatorRoles
{
    /// <summary>The sender, when they hold <paramref name="role"/>; otherwise the command is refused (error queue, with the reason and the sender).</summary>
    public static string Require(ConsumeContext context, RoleOptions roles, OperatorRole role, ILogger logger)
    {
        var command = context.SupportedMessageTypes.FirstOrDefault() ?? "command";
        var user = OperatorIdentity.Of(context);
        if (user is null)
        {
            logger.LogWarning("Refused {Command} {MessageId}: no validated sender", command, context.MessageId);
            throw new CommandRejectedException("the sender is unknown: send operator commands with a validated AMQP user_id");
        }

        if (!roles.Has(user, role))
        {
            logger.LogWarning("Refused {Command} {MessageId} from {User}: not an {Role}", command, context.MessageId, user, role);
            throw new CommandRejectedException($"'{user}' does not have the {role.ToString().ToLowerInvariant()} role (Roles:{role}s)");
        }

        return user;
    }
}
