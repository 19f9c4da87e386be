using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pipeline.Contracts;
using Pipeline.Hosting;
using Pipeline.Storage.Repositories;

namespace Pipeline.DriftDetection;

/// <summary>PauseAdaptation (an operator) → windows are still evaluated and reported, but no run starts.</summary>
public sealed class PauseAdaptationConsumer(
    IModelRegistry registry, IAdaptationPauseRepository pauses, IOptions<RoleOptions> roles, ILogger<PauseAdaptationConsumer> logger)
    : IConsumer<PauseAdaptation>
{
    public Task Consume(ConsumeContext<PauseAdaptation> context) =>
        PauseCommand.HandleAsync(context, context.Message.ModelId, context.Message.Reason, paused: true, registry, pauses, roles.Value, logger);
}

/// <summary>ResumeAdaptation (an operator) → drift may start runs again.</summary>
public sealed class ResumeAdaptationConsumer(
    IModelRegistry registry, IAdaptationPauseRepository pauses, IOptions<RoleOptions> roles, ILogger<ResumeAdaptationConsumer> logger)
    : IConsumer<ResumeAdaptation>
{
    public Task Consume(ConsumeContext<ResumeAdaptation> context) =>
        PauseCommand.HandleAsync(context, context.Message.ModelId, context.Message.Reason, paused: false, registry, pauses, roles.Value, logger);
}

/// <summary>
/// Pause and resume: an operator's command, stored (every replica reads the pause from storage before each
/// batch, so it needs no routing to the replica that owns the model).
/// </summary>
internal static class PauseCommand
{
    public static Task HandleAsync<T>(
        ConsumeContext<T> context, string modelId, string reason, bool paused, IModelRegistry registry, IAdaptationPauseRepository pauses,
        RoleOptions roles, ILogger logger)
        where T : class =>
        OperatorCommand.HandleAsync(context, roles, OperatorRole.Operator, logger, async by =>
        {
            _ = await registry.GetModelAsync(modelId, context.CancellationToken) ?? throw new CommandRejectedException($"model {modelId} is unknown");
            await pauses.SetAsync(modelId, paused, by, reason, context.CancellationToken);
            var verb = paused ? "paused" : "resumed";
            logger.LogInformation("Adaptation of {ModelId} {Verb} by {By}: {Reason}", modelId, verb, by, reason);
            return paused
                ? $"adaptation of {modelId} paused: drift is still reported, no run starts"
                : $"adaptation of {modelId} resumed: drift may start runs again";
        });
}
