using System.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Cli.Commands;
using Pipeline.Hosting;
using Pipeline.Storage.Repositories;

namespace Pipeline.Integration.Tests;

/// <summary>Runs pipelinectl in-process, as its Program does, against the test broker; captures its output.</summary>
public static class Pipelinectl
{
    private static readonly SemaphoreSlim Console1 = new(1, 1);

    public sealed record Result(int Code, string Out, string Err);

    public static async Task<Result> RunAsync(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await RunAsync(output, error, args);
        return new Result(code, output.ToString(), error.ToString());
    }

    /// <summary>Runs with the given writers (one run at a time: the console is process-wide).</summary>
    public static async Task<int> RunAsync(TextWriter output, TextWriter error, params string[] args)
    {
        Environment.SetEnvironmentVariable("PIPELINE_AMQP_HOST", Broker.Host);
        Environment.SetEnvironmentVariable("PIPELINE_AMQP_PORT", Broker.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Environment.SetEnvironmentVariable("PIPELINE_AMQP_VHOST", Broker.VirtualHost);
        var root = new RootCommand();
        root.Subcommands.Add(RunsCommands.Create());
        root.Subcommands.Add(ModelsCommands.Create());
        foreach (var command in OperatorCommands.Create())
        {
            root.Subcommands.Add(command);
        }

        await Console1.WaitAsync();
        var (savedOut, savedErr) = (Console.Out, Console.Error);
        Console.SetOut(output);
        Console.SetError(error);
        try
        {
            return await CommandLineRunner.RunAsync(root, args);
        }
        finally
        {
            Console.SetOut(savedOut);
            Console.SetError(savedErr);
            Console1.Release();
        }
    }

    /// <summary>A run of <paramref name="modelId"/> (production v2) whose candidate v3 awaits approval for an hour.</summary>
    public static async Task<Guid> PendingRunAsync(IServiceProvider services, string modelId)
    {
        await Seed.TwoProductionVersionsAsync(services, modelId);
        await Seed.ExtraVersionAsync(services, modelId, 3);
        var runId = Guid.NewGuid();
        var steps = services.GetRequiredService<IRunStepStore>();
        Assert.True(await steps.TryStartAsync(
            new NewAdaptationRun { RunId = runId, ModelId = modelId, BaseVersion = 2, Detail = "seeded" },
            new RunStep { RunId = runId, Expected = RunState.Detected, Next = RunState.Scoring }));
        Assert.True(await steps.TryStepAsync(new RunStep { RunId = runId, Expected = RunState.Scoring, Next = RunState.Tuning }));
        Assert.True(await steps.TryStepAsync(new RunStep
        {
            RunId = runId, Expected = RunState.Tuning, Next = RunState.Evaluating, Update = new RunUpdate { CandidateVersion = 3, Strategy = "sparse" },
        }));
        Assert.True(await steps.TryStepAsync(new RunStep
        {
            RunId = runId, Expected = RunState.Evaluating, Next = RunState.AwaitingApproval, Detail = "gain within the ask band",
            Timer = new RunTimer { RunId = runId, State = RunState.AwaitingApproval, DueAt = DateTimeOffset.UtcNow.AddHours(1) },
        }));
        return runId;
    }
}
