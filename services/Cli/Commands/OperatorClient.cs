using MassTransit;
using Pipeline.Contracts;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Pipeline.Cli.Commands;

/// <summary>Connection settings for operator commands; flags override PIPELINE_AMQP_* environment variables.</summary>
public sealed record BrokerSettings(string Host, int Port, string VirtualHost, string User, string Password)
{
    public static BrokerSettings FromEnvironment(string? user, string? password)
    {
        static string Env(string name, string fallback) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : fallback;
        return new BrokerSettings(
            Env("PIPELINE_AMQP_HOST", "localhost"),
            int.Parse(Env("PIPELINE_AMQP_PORT", "5672"), System.Globalization.CultureInfo.InvariantCulture),
            Env("PIPELINE_AMQP_VHOST", "/"),
            user ?? Env("PIPELINE_AMQP_USER", Environment.UserName),
            password ?? Env("PIPELINE_AMQP_PASSWORD", ""));
    }
}

/// <summary>
/// Publishes one operator command on RabbitMQ. The AMQP user_id property is set to the user the
/// client authenticated as: RabbitMQ rejects a message whose user_id differs from the connection's
/// user, so the services can trust it as the operator's identity.
/// </summary>
public static class OperatorClient
{
    public static async Task PublishAsync<T>(BrokerSettings broker, T command, CancellationToken ct)
        where T : class =>
        await WithBusAsync(broker, ct, bus => bus.Publish(command, ct));

    /// <summary>
    /// Publishes a request and waits for the reply. A consumer that refuses the request faults it: the fault's
    /// reason comes back as <see cref="CommandRefusedException"/>.
    /// </summary>
    public static async Task<TResponse> RequestAsync<TRequest, TResponse>(BrokerSettings broker, TRequest request, TimeSpan timeout, CancellationToken ct)
        where TRequest : class
        where TResponse : class
    {
        TResponse? response = null;
        await WithBusAsync(broker, ct, async bus =>
        {
            var client = bus.CreateRequestClient<TRequest>(RequestTimeout.After(ms: (int)timeout.TotalMilliseconds));
            try
            {
                response = (await client.GetResponse<TResponse>(request, ct)).Message;
            }
            catch (RequestFaultException ex)
            {
                var reason = ex.Fault?.Exceptions?.FirstOrDefault()?.Message ?? ex.Message;
                throw new CommandRefusedException(reason);
            }
            catch (RequestTimeoutException)
            {
                throw new CommandRefusedException(
                    $"no answer within {timeout.TotalSeconds:0} s: is the deployment service running on {broker.Host}:{broker.Port}{broker.VirtualHost}?");
            }
        });
        return response!;
    }

    private static async Task WithBusAsync(BrokerSettings broker, CancellationToken ct, Func<IBus, Task> action)
    {
        var services = new ServiceCollection();
        services.AddLogging(b => b.SetMinimumLevel(LogLevel.Warning));
        services.AddMassTransit(x => x.UsingRabbitMq((_, cfg) =>
        {
            cfg.Host(broker.Host, (ushort)broker.Port, broker.VirtualHost, h =>
            {
                h.Username(broker.User);
                h.Password(broker.Password);
            });
            // Commands go to their own exchange only: operators may write nothing else (infra/rabbitmq/permissions.sh).
            cfg.Publish<IPipelineMessage>(p => p.Exclude = true);
            cfg.Publish<IRunMessage>(p => p.Exclude = true);
            cfg.ConfigurePublish(p => p.UseExecute(context =>
            {
                if (context.TryGetPayload<RabbitMqSendContext>(out var amqp))
                {
                    amqp.BasicProperties.UserId = broker.User;
                }
            }));
        }));
        await using var provider = services.BuildServiceProvider();
        var bus = provider.GetRequiredService<IBusControl>();
        using var startTimeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        startTimeout.CancelAfter(TimeSpan.FromSeconds(30));
        await bus.StartAsync(startTimeout.Token);
        try
        {
            await action(bus);
        }
        finally
        {
            await bus.StopAsync(CancellationToken.None);
        }
    }
}

/// <summary>The service refused a request (the reason is the fault's) or did not answer.</summary>
public sealed class CommandRefusedException(string message) : Exception(message);
