using System.Collections.Concurrent;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Pipeline.Contracts;
using Pipeline.Hosting;

namespace Pipeline.Inference.Tests;

/// <summary>Collects messages the service publishes, through real consumers on the test host's bus.</summary>
public sealed class MessageRecorder
{
    private readonly ConcurrentQueue<object> messages = new();

    public void Add(object message) => messages.Enqueue(message);

    public IReadOnlyList<T> All<T>() => messages.OfType<T>().ToList();

    public async Task<T> WaitForAsync<T>(Func<T, bool> predicate, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        while (true)
        {
            var found = messages.OfType<T>().FirstOrDefault(predicate);
            if (found is not null)
            {
                return found;
            }

            try
            {
                await Task.Delay(20, cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"no {typeof(T).Name} matching the condition was published");
            }
        }
    }
}

public sealed class ObservationsRecorderConsumer(MessageRecorder recorder) : IConsumer<ObservationsIngested>
{
    public Task Consume(ConsumeContext<ObservationsIngested> context)
    {
        recorder.Add(context.Message);
        return Task.CompletedTask;
    }
}

public sealed class LabelsRecorderConsumer(MessageRecorder recorder) : IConsumer<LabelsObserved>
{
    public Task Consume(ConsumeContext<LabelsObserved> context)
    {
        recorder.Add(context.Message);
        return Task.CompletedTask;
    }
}

/// <summary>A second module in the test host: the downstream services' view of what Inference publishes.</summary>
public sealed class RecorderModule : IServiceModule
{
    public string Name => "test-recorder";

    public void ConfigureServices(IServiceCollection services, IConfiguration configuration) =>
        services.AddSingleton<MessageRecorder>();

    public void AddConsumers(IBusRegistrationConfigurator bus)
    {
        bus.AddConsumer<ObservationsRecorderConsumer>();
        bus.AddConsumer<LabelsRecorderConsumer>();
    }
}

public sealed record LogEntry(LogLevel Level, string Category, string Message, Exception? Exception);

/// <summary>Keeps every log entry so tests can check what the service logged.</summary>
public sealed class CapturingLoggerProvider : ILoggerProvider
{
    private readonly ConcurrentQueue<LogEntry> entries = new();

    public IReadOnlyList<LogEntry> Entries => entries.ToList();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public async Task<LogEntry> WaitForAsync(Func<LogEntry, bool> predicate, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        while (true)
        {
            var found = entries.FirstOrDefault(predicate);
            if (found is not null)
            {
                return found;
            }

            try
            {
                await Task.Delay(20, cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException("no matching log entry");
            }
        }
    }

    public void Dispose()
    {
    }

    private sealed class Logger(CapturingLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                owner.entries.Enqueue(new LogEntry(logLevel, category, formatter(state, exception), exception));
            }
        }
    }
}
