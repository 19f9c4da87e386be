using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Pipeline.Contracts;
using Pipeline.Hosting;
using Pipeline.Storage.Repositories;

namespace Pipeline.AdaptationRuns;

/// <summary>Whether a model has a run in flight, and when its last adaptation (deployed or rejected) ended.</summary>
public sealed record RunActivity(bool Active, DateTimeOffset? LastDecidedAt);

/// <summary>
/// The run module's one query API for the services around the run: a worker asks whether its work is still
/// wanted, the drift monitor whether a run is in flight. The answers are the run owner's rules (RunLifecycle)
/// applied to its records; nobody else reads the run's table.
/// </summary>
public sealed class RunWorkQuery(IAdaptationRunRepository runs)
{
    /// <summary>
    /// False when the run has ended (work re-sent or redelivered after the owner gave up), and deployment work
    /// only while the run deploys this very candidate. An unknown run, or one of another model, is a rejected command.
    /// </summary>
    public async Task<(bool Wanted, RunState State)> IsWantedAsync(IRunMessage work, RunStage stage, int? candidate, CancellationToken ct)
    {
        if (await runs.GetAsync(work.RunId, ct) is not { } run || run.ModelId != work.ModelId)
        {
            throw new CommandRejectedException($"run {work.RunId} of {work.ModelId} is unknown");
        }

        var wanted = stage == RunStage.Deploy
            ? run.State == RunState.Deploying && run.CandidateVersion == candidate
            : !RunLifecycle.IsTerminal(run.State);
        return (wanted, run.State);
    }

    public async Task<RunActivity> ActivityAsync(string modelId, CancellationToken ct)
    {
        var active = await runs.GetActiveRunAsync(modelId, ct) is not null;
        var last = (await runs.ListByModelAsync(modelId, 1, ct)).FirstOrDefault();
        return new RunActivity(active, last is { State: RunState.Deployed or RunState.Rejected, FinishedAt: { } finished } ? finished : null);
    }
}

public static class RunWorkServiceCollectionExtensions
{
    /// <summary>The run module's query and the worker's preamble (<see cref="StageWork"/>).</summary>
    public static IServiceCollection AddRunWork(this IServiceCollection services)
    {
        services.TryAddSingleton<RunWorkQuery>();
        services.TryAddSingleton<StageWork>();
        return services;
    }
}
