using FluentValidation;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Pipeline.Hosting;

/// <summary>
/// Validates every incoming message with its FluentValidation validator before any consumer runs.
/// An invalid message throws <see cref="ValidationException"/>, which the retry policy ignores,
/// so it is faulted straight to the endpoint's error queue with the validation errors in the
/// MT-Fault-Message header. Business code never sees an invalid message.
/// </summary>
public sealed class ValidationFilter<T>(IServiceProvider services, ILogger<ValidationFilter<T>> logger)
    : IFilter<ConsumeContext<T>>
    where T : class
{
    public async Task Send(ConsumeContext<T> context, IPipe<ConsumeContext<T>> next)
    {
        var validator = services.GetService<IValidator<T>>();
        if (validator is not null)
        {
            var result = await validator.ValidateAsync(context.Message, context.CancellationToken);
            if (!result.IsValid)
            {
                logger.LogWarning(
                    "Rejected invalid {MessageType} {MessageId}: {Errors}",
                    typeof(T).Name, context.MessageId, result.ToString("; "));
                PipelineMetrics.InvalidMessages.WithLabels(typeof(T).Name).Inc();
                throw new ValidationException($"Invalid {typeof(T).Name}: {result.ToString("; ")}", result.Errors);
            }
        }

        await next.Send(context);
    }

    public void Probe(ProbeContext context) => context.CreateFilterScope("validation");
}
