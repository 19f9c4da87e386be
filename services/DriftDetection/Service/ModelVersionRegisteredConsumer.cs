using MassTransit;
using Microsoft.Extensions.Logging;
using Pipeline.Artifacts;
using Pipeline.Contracts;
using Pipeline.Hosting;

namespace Pipeline.DriftDetection;

/// <summary>ModelVersionRegistered → its drift reference profile is built now, not on the first traffic.</summary>
public sealed class ModelVersionRegisteredConsumer(ReferenceProfileStore profiles, ILogger<ModelVersionRegisteredConsumer> logger)
    : IConsumer<ModelVersionRegistered>
{
    public async Task Consume(ConsumeContext<ModelVersionRegistered> context)
    {
        var m = context.Message;
        try
        {
            await profiles.EnsureProfileAsync(m.ModelId, m.Version, context.CancellationToken);
        }
        catch (ModelNotFoundException ex)
        {
            throw new CommandRejectedException(ex.Message);
        }
        catch (InvalidDataException ex)
        {
            logger.LogWarning("No drift profile for {ModelId} v{Version}: {Reason}", m.ModelId, m.Version, ex.Message);
        }
    }
}
