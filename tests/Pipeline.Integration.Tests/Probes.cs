using System.Collections.Concurrent;
using System.Threading.Channels;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Cli.Commands;
using Pipeline.Contracts;
using Pipeline.Hosting;

namespace Pipeline.Integration.Tests;

/// <summary>A message only these tests send: a consumer that always throws, to watch retry and fault.</summary>
public sealed record ProbeFailure
{
    public required Guid Id { get; init; }
}

public sealed class ProbeFailureConsumer(AttemptCounter counter) : IConsumer<ProbeFailure>
{
    public Task Consume(ConsumeContext<ProbeFailure> context)
    {
        counter.Attempts.AddOrUpdate(context.Message.Id, 1, (_, n) => n + 1);
        throw new InvalidOperationException($"probe {context.Message.Id} always fails");
    }
}

public sealed class AttemptCounter
{
    public ConcurrentDictionary<Guid, int> Attempts { get; } = new();
}

public sealed class ProbeModule : IServiceModule
{
    public AttemptCounter Counter { get; } = new();

    public string Name => "probe";

    public void ConfigureServices(IServiceCollection services, IConfiguration configuration) => services.AddSingleton(Counter);

    public void AddConsumers(IBusRegistrationConfigurator bus) => bus.AddConsumer<ProbeFailureConsumer>();
}

/// <summary>Records every pipeline event it sees, like an operator's dashboard would.</summary>
public sealed class EventLog
{
    private readonly ConcurrentQueue<object> events = new();
    private readonly Channel<object> arrivals = Channel.CreateUnbounded<object>();

    public IReadOnlyCollection<object> All => events;

    public void Add(object e)
    {
        events.Enqueue(e);
        arrivals.Writer.TryWrite(e);
    }

    /// <summary>Waits for the first event of type T matching the predicate (including ones already seen).</summary>
    public async Task<T> WaitAsync<T>(Func<T, bool> match, TimeSpan timeout, string? because = null)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (true)
        {
            var seen = events.OfType<T>().FirstOrDefault(match);
            if (seen is not null)
            {
                return seen;
            }

            try
            {
                await arrivals.Reader.WaitToReadAsync(cts.Token);
                arrivals.Reader.TryRead(out _);
            }
            catch (OperationCanceledException)
            {
                var failures = string.Join("; ", events.OfType<AdaptationRunFailed>().Select(f => $"{f.Stage}: {f.Reason}"));
                throw new TimeoutException(
                    $"no {typeof(T).Name} within {timeout}{(because is null ? "" : " (" + because + ")")}; seen: " +
                    string.Join(", ", events.Select(e => e.GetType().Name)) + (failures.Length > 0 ? "; failures: " + failures : ""));
            }
        }
    }
}

public sealed class EventLogModule : IServiceModule
{
    public EventLog Log { get; } = new();

    public string Name => "event-log";

    public void ConfigureServices(IServiceCollection services, IConfiguration configuration) => services.AddSingleton(Log);

    public void AddConsumers(IBusRegistrationConfigurator bus) => bus.AddConsumer<EventLogConsumer>();
}

public sealed class EventLogConsumer(EventLog log) :
    IConsumer<DriftDetected>, IConsumer<SensitivityScored>, IConsumer<TuningProgress>, IConsumer<CandidateTrained>,
    IConsumer<CandidateEvaluated>, IConsumer<ApprovalRequested>, IConsumer<CandidateApproved>, IConsumer<CandidateRejected>,
    IConsumer<ModelDeployed>, IConsumer<ModelRolledBack>, IConsumer<AdaptationRunFailed>, IConsumer<AdaptationRunStarted>,
    IConsumer<AdaptationRunFinished>, IConsumer<ScoreSensitivity>, IConsumer<TrainCandidate>, IConsumer<EvaluateCandidate>,
    IConsumer<DeployCandidate>, IConsumer<AdaptationStageFailed>
{
    public Task Consume(ConsumeContext<AdaptationRunStarted> context) => Add(context.Message);

    public Task Consume(ConsumeContext<AdaptationRunFinished> context) => Add(context.Message);

    public Task Consume(ConsumeContext<ScoreSensitivity> context) => Add(context.Message);

    public Task Consume(ConsumeContext<TrainCandidate> context) => Add(context.Message);

    public Task Consume(ConsumeContext<EvaluateCandidate> context) => Add(context.Message);

    public Task Consume(ConsumeContext<DeployCandidate> context) => Add(context.Message);

    public Task Consume(ConsumeContext<AdaptationStageFailed> context) => Add(context.Message);

    public Task Consume(ConsumeContext<DriftDetected> context) => Add(context.Message);

    public Task Consume(ConsumeContext<SensitivityScored> context) => Add(context.Message);

    public Task Consume(ConsumeContext<TuningProgress> context) => Add(context.Message);

    public Task Consume(ConsumeContext<CandidateTrained> context) => Add(context.Message);

    public Task Consume(ConsumeContext<CandidateEvaluated> context) => Add(context.Message);

    public Task Consume(ConsumeContext<ApprovalRequested> context) => Add(context.Message);

    public Task Consume(ConsumeContext<CandidateApproved> context) => Add(context.Message);

    public Task Consume(ConsumeContext<CandidateRejected> context) => Add(context.Message);

    public Task Consume(ConsumeContext<ModelDeployed> context) => Add(context.Message);

    public Task Consume(ConsumeContext<ModelRolledBack> context) => Add(context.Message);

    public Task Consume(ConsumeContext<AdaptationRunFailed> context) => Add(context.Message);

    private Task Add(object message)
    {
        log.Add(message);
        return Task.CompletedTask;
    }
}

public static class Operators
{
    /// <summary>Sends an operator command as a RabbitMQ user, exactly as pipelinectl does.</summary>
    public static Task SendAsync<T>(string user, T command)
        where T : class =>
        OperatorClient.PublishAsync(new BrokerSettings(Broker.Host, Broker.Port, Broker.VirtualHost, user, user), command, CancellationToken.None);
}
