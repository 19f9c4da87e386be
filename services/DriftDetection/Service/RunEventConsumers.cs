using MassTransit;
using Pipeline.Contracts;

namespace Pipeline.DriftDetection;

/// <summary>AdaptationRunStarted → the model's monitor holds raises while the run is in flight.</summary>
public sealed class AdaptationRunStartedConsumer(MonitorRegistry monitors) : IConsumer<AdaptationRunStarted>
{
    public Task Consume(ConsumeContext<AdaptationRunStarted> context)
    {
        monitors.RunStarted(context.Message.ModelId);
        if (context.Message.TriggeredBy != "drift")
        {
            DriftMetrics.RunsStarted.WithLabels(context.Message.ModelId, "operator").Inc();
        }

        return Task.CompletedTask;
    }
}

/// <summary>AdaptationRunFinished → deployed or rejected: cooldown; failed: drift may raise again at once.</summary>
public sealed class AdaptationRunFinishedConsumer(MonitorRegistry monitors) : IConsumer<AdaptationRunFinished>
{
    public Task Consume(ConsumeContext<AdaptationRunFinished> context)
    {
        monitors.RunFinished(context.Message.ModelId, context.Message.Outcome != RunOutcome.Failed);
        return Task.CompletedTask;
    }
}
