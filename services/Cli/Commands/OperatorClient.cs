using System.Text.Json.Serialization;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Pipeline.Contracts;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Pipeline.Cli.Commands;

/// <summary>Connection settings for operator commands; flags override PIPELINE_AMQP_* environment variables.</summary>
public sealed record BrokerSettings(string Host, int Port, string VirtualHost, string User, string Password)
{
    public static BrokerSettings FromEnvironment(string? user, string? password)
    {
        static string Env(string name, string fallback) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : fallback;
        var port = Env("PIPELINE_AMQP_PORT", "5672");
        return new BrokerSettings(
            Env("PIPELINE_AMQP_HOST", "localhost"),
            int.TryParse(port, System.Globalization.CultureInfo.InvariantCulture, out var p) && p is > 0 and < 65536
                ? p : throw new Hosting.UserErrorException($"PIPELINE_AMQP_PORT '{port}' is not a port number"),
            Env("PIPELINE_AMQP_VHOST", "/"),
            user ?? Env("PIPELINE_AMQP_USER", Environment.UserName),
            password ?? Env("PIPELINE_AMQP_PASSWORD", ""));
    }

    public override string ToString() => $"{User}@{Host}:{Port}{(VirtualHost.StartsWith('/') ? "" : "/")}{VirtualHost}";
}

/// <summary>What went wrong talking to the pipeline, with the exit code pipelinectl reports it with.</summary>
public sealed class OperatorException(string message, int exitCode) : Exception(message)
{
    /// <summary>The owning service refused the command or query.</summary>
    public const int Refused = 1;

    /// <summary>No service answered in time.</summary>
    public const int NoAnswer = 3;

    /// <summary>The broker could not be reached, or refused the user's credentials or virtual host.</summary>
    public const int Broker = 4;

    public int ExitCode { get; } = exitCode;
}

/// <summary>
/// Talks to the pipeline over RabbitMQ as the operator's own broker user. Messages carry the AMQP user_id of
/// that user: RabbitMQ rejects a message whose user_id differs from the connection's user, so the services can
/// trust it as the operator's identity. Commands and queries are published with the plain client to the exchanges
/// the services declared (<see cref="CommandPublisher"/>); the owning service answers (<see cref="CommandAccepted"/>,
/// <see cref="CommandRefused"/> or the query's reply) to the temporary endpoint of a MassTransit bus.
/// </summary>
public static class OperatorClient
{
    /// <summary>Publishes a command without waiting for an answer (as plain AMQP tools do).</summary>
    public static async Task PublishAsync<T>(BrokerSettings broker, T command, CancellationToken ct)
        where T : class
    {
        await CheckLoginAsync(broker, ct);
        await CommandPublisher.PublishAsync(broker, command, "its service", null, null, ct);
    }

    /// <summary>Sends an operator command and waits for the owning service's answer.</summary>
    /// <returns>What the service did.</returns>
    /// <exception cref="OperatorException">refused (with the reason), no answer in time, or the broker failed.</exception>
    public static async Task<CommandAccepted> CommandAsync<T>(BrokerSettings broker, T command, string service, TimeSpan timeout, CancellationToken ct)
        where T : class =>
        await QueryAsync<T, CommandAccepted>(broker, command, service, timeout, ct);

    /// <summary>A request answered with <typeparamref name="TResponse"/>, or refused with <see cref="CommandRefused"/> or a fault.</summary>
    public static async Task<TResponse> QueryAsync<TRequest, TResponse>(BrokerSettings broker, TRequest request, string service, TimeSpan timeout, CancellationToken ct)
        where TRequest : class
        where TResponse : class
    {
        TResponse? answer = null;
        await WithBusAsync(broker, null, ct, async bus => answer = await RequestAsync<TRequest, TResponse>(bus, broker, request, service, timeout, ct));
        return answer!;
    }

    /// <summary>
    /// Runs <paramref name="action"/> on a bus whose temporary, auto-delete queue receives the events
    /// <paramref name="subscribe"/> binds (a live view; nothing is left on the broker afterwards).
    /// </summary>
    public static Task WatchAsync(BrokerSettings broker, Action<IReceiveEndpointConfigurator> subscribe, CancellationToken ct, Func<IBus, Task> action) =>
        WithBusAsync(broker, subscribe, ct, action);

    internal static async Task<TResponse> RequestAsync<TRequest, TResponse>(IBus bus, BrokerSettings broker, TRequest request, string service, TimeSpan timeout, CancellationToken ct)
        where TRequest : class
        where TResponse : class
    {
        // The request goes out with the plain client (CommandPublisher: operators may not declare the command
        // exchanges); the answer, a refusal or a fault comes back to this bus's temporary endpoint with the request id.
        var requestId = NewId.NextGuid();
        var answer = new TaskCompletionSource<TResponse>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var answered = bus.ConnectRequestPipe(requestId, Pipe.Execute<ConsumeContext<TResponse>>(c => answer.TrySetResult(c.Message)));
        using var refused = bus.ConnectRequestPipe(requestId, Pipe.Execute<ConsumeContext<CommandRefused>>(c =>
            answer.TrySetException(new OperatorException($"refused by {service}: {c.Message.Reason}", OperatorException.Refused))));
        using var faulted = bus.ConnectRequestPipe(requestId, Pipe.Execute<ConsumeContext<Fault<TRequest>>>(c =>
        {
            // An invalid message or a failure the service could not handle: its reason comes back in the fault.
            var reason = c.Message.Exceptions?.FirstOrDefault()?.Message ?? "faulted";
            answer.TrySetException(new OperatorException($"refused by {service}: {reason}", OperatorException.Refused));
        }));
        await CommandPublisher.PublishAsync(broker, request, service, bus.Address, requestId, ct);
        try
        {
            return await answer.Task.WaitAsync(timeout, ct);
        }
        catch (TimeoutException)
        {
            throw new OperatorException(
                $"no service answered within {timeout.TotalSeconds:0.#} s: is {service} running on {broker.Host}:{broker.Port} (virtual host {broker.VirtualHost})? (--timeout sets the wait)",
                OperatorException.NoAnswer);
        }
    }

    private static async Task WithBusAsync(BrokerSettings broker, Action<IReceiveEndpointConfigurator>? subscribe, CancellationToken ct, Func<IBus, Task> action)
    {
        await CheckLoginAsync(broker, ct);
        var watchQueue = $"pipelinectl_bus_watch-{NewId.NextGuid():N}";
        var watched = new WatchedEvents();
        var services = new ServiceCollection();
        services.AddLogging(b => b.SetMinimumLevel(LogLevel.Critical));
        services.AddMassTransit(x => x.UsingRabbitMq((_, cfg) =>
        {
            cfg.Host(broker.Host, (ushort)broker.Port, broker.VirtualHost, h =>
            {
                h.Username(broker.User);
                h.Password(broker.Password);
            });
            cfg.ConfigureJsonSerializerOptions(json =>
            {
                if (!json.Converters.Any(c => c is JsonStringEnumConverter))
                {
                    json.Converters.Add(new JsonStringEnumConverter());
                }

                return json;
            });
            if (subscribe is not null)
            {
                // "_bus_" in the name: operators may declare and read their own temporary queues only (permissions.sh).
                // The event exchanges are the services' topology, which operators may not declare: the queue is bound
                // to an exchange of the watch's own, and that one to the event exchanges below (exchange.bind needs
                // write on its destination, the watch's exchange, and read on its source, the event exchange).
                cfg.ReceiveEndpoint(watchQueue, e =>
                {
                    e.AutoDelete = true;
                    e.Durable = false;
                    e.Exclusive = true;
                    e.ConfigureConsumeTopology = false;
                    // No Fault events for an event it cannot read (operators may not declare the fault exchanges).
                    e.PublishFaults = false;
                    e.Bind(watchQueue + "-events", x =>
                    {
                        x.Durable = false;
                        x.AutoDelete = true;
                    });
                    e.ConnectHandlerConfigurationObserver(watched);
                    subscribe(e);
                });
            }
        }));
        await using var provider = services.BuildServiceProvider();
        var bus = provider.GetRequiredService<IBusControl>();
        using var startTimeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        startTimeout.CancelAfter(TimeSpan.FromSeconds(30));
        try
        {
            await bus.StartAsync(startTimeout.Token);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            throw new OperatorException($"could not start a connection to RabbitMQ as {broker}: {ex.GetBaseException().Message}", OperatorException.Broker);
        }

        try
        {
            if (subscribe is not null)
            {
                await BindAsync(broker, watchQueue + "-events", watched.Exchanges, ct);
            }

            await action(bus);
        }
        finally
        {
            await bus.StopAsync(CancellationToken.None);
        }
    }

    /// <summary>Binds the watch's exchange to the event exchanges the services declared; one they have not declared yet is named.</summary>
    private static async Task BindAsync(BrokerSettings broker, string destination, IEnumerable<string> exchanges, CancellationToken ct)
    {
        var factory = new ConnectionFactory
        {
            HostName = broker.Host, Port = broker.Port, VirtualHost = broker.VirtualHost, UserName = broker.User, Password = broker.Password,
            ClientProvidedName = "pipelinectl-watch",
        };
        await using var connection = await factory.CreateConnectionAsync(ct);
        foreach (var exchange in exchanges.Distinct(StringComparer.Ordinal))
        {
            // A refused or missing exchange closes the channel: one channel per binding.
            await using var channel = await connection.CreateChannelAsync(cancellationToken: ct);
            try
            {
                await channel.ExchangeBindAsync(destination, exchange, "", cancellationToken: ct);
            }
            catch (OperationInterruptedException ex) when (ex.ShutdownReason?.ReplyCode == 404)
            {
                await Console.Error.WriteLineAsync($"not watching {exchange}: the services have not declared it yet (none of them has started)");
            }
            catch (OperationInterruptedException ex) when (ex.ShutdownReason?.ReplyCode == 403)
            {
                throw new OperatorException($"access refused: user '{broker.User}' may not read {exchange} (infra/rabbitmq/permissions.sh)", OperatorException.Broker);
            }
        }
    }

    /// <summary>The message types a watch subscribes to, as their exchange names.</summary>
    private sealed class WatchedEvents : IHandlerConfigurationObserver
    {
        private readonly List<string> exchanges = [];

        public IEnumerable<string> Exchanges => exchanges;

        public void HandlerConfigured<TMessage>(IHandlerConfigurator<TMessage> configurator)
            where TMessage : class => exchanges.Add($"{typeof(TMessage).Namespace}:{typeof(TMessage).Name}");
    }

    /// <summary>
    /// Logs in once with the plain client first, so that a wrong password, a user without access to the virtual
    /// host and a broker that is not there are each named as such (MassTransit would only keep reconnecting).
    /// </summary>
    private static async Task CheckLoginAsync(BrokerSettings broker, CancellationToken ct)
    {
        var factory = new ConnectionFactory
        {
            HostName = broker.Host, Port = broker.Port, VirtualHost = broker.VirtualHost, UserName = broker.User, Password = broker.Password,
            ClientProvidedName = "pipelinectl", RequestedConnectionTimeout = TimeSpan.FromSeconds(10),
        };
        try
        {
            await using var connection = await factory.CreateConnectionAsync(ct);
        }
        catch (Exception ex) when (ex is BrokerUnreachableException or AuthenticationFailureException or OperationInterruptedException
            or System.Net.Sockets.SocketException or IOException or TimeoutException)
        {
            throw Explain(broker, ex);
        }
    }

    private static OperatorException Explain(BrokerSettings broker, Exception ex)
    {
        for (Exception? e = ex; e is not null; e = e.InnerException)
        {
            if (e is AuthenticationFailureException)
            {
                return new OperatorException(
                    $"authentication failed: RabbitMQ at {broker.Host}:{broker.Port} refused user '{broker.User}' (check --user/--password or PIPELINE_AMQP_USER/PIPELINE_AMQP_PASSWORD)",
                    OperatorException.Broker);
            }

            if (e is OperationInterruptedException { ShutdownReason.ReplyCode: 530 or 403 })
            {
                return new OperatorException(
                    $"access refused: user '{broker.User}' may not use virtual host '{broker.VirtualHost}' on {broker.Host}:{broker.Port} (PIPELINE_AMQP_VHOST)",
                    OperatorException.Broker);
            }
        }

        return new OperatorException($"broker unreachable at {broker.Host}:{broker.Port}: {ex.GetBaseException().Message}", OperatorException.Broker);
    }
}
