using Microsoft.Extensions.Logging;
using Pipeline.Contracts;
using Pipeline.Storage.Repositories;

namespace Pipeline.AdaptationRuns;

/// <summary>
/// Warms the run owner before its bus takes the first message (<see cref="StartWarmUp"/>): the message
/// contracts through MassTransit's JSON options and the owner's reads (runs, history, timers, tournaments, the production
/// alias, the operators' run queries) for ids no row has. Writes nothing. Off with Runs:WarmUp=false.
/// </summary>
public sealed class RunOwnerWarmUp(
    IAdaptationRunRepository runs, IModelRegistry registry, IRunStepStore steps, ITournamentStore tournaments, RunQueries queries,
    ILogger<RunOwnerWarmUp> logger) : ReadsWarmUp(logger)
{
    public const string Switch = RunOwnerOptions.Section + ":WarmUp";

    protected override (string Service, string What) Describe => ("run owner", "contracts, run and registry reads");

    protected override async Task WarmAsync(CancellationToken cancellationToken)
    {
        StartWarmUp.WarmContracts();
        await StartWarmUp.WarmReadsAsync(runs, registry, cancellationToken);
        var model = StartWarmUp.ScratchModelId();
        var run = Guid.NewGuid();
        await runs.GetActiveRunAsync(model, cancellationToken);
        await steps.GetTimerAsync(run, cancellationToken);
        await tournaments.GetAsync(run, cancellationToken);
        await queries.GetAsync(run, cancellationToken);
        await queries.ListAsync(new ListRuns { ModelId = model, Limit = 1 }, cancellationToken);
    }
}
