using MassTransit;
using Prometheus;

namespace Pipeline.Hosting;

/// <summary>Counts and times every consumed message for /metrics.</summary>
public sealed class MetricsFilter<T> : IFilter<ConsumeContext<T>>
    where T : class
{
    public async Task Send(ConsumeContext<T> context, IPipe<ConsumeContext<T>> next)
    {
        var type = typeof(T).Name;
        using var timer = PipelineMetrics.ConsumeDuration.WithLabels(type).NewTimer();
        try
        {
            await next.Send(context);
            PipelineMetrics.ConsumedMessages.WithLabels(type, "ok").Inc();
        }
        catch (Exception ex)
        {
            // invalid: failed validation; rejected: a command that cannot be carried out; error: a fault.
            var outcome = ex switch
            {
                FluentValidation.ValidationException => "invalid",
                CommandRejectedException => "rejected",
                _ => "error",
            };
            PipelineMetrics.ConsumedMessages.WithLabels(type, outcome).Inc();
            throw;
        }
    }

    public void Probe(ProbeContext context) => context.CreateFilterScope("metrics");
}
