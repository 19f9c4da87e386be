using Dapper;
using Pipeline.Storage.Data;
using Pipeline.Storage.Sql;

namespace Pipeline.Storage.Repositories;

/// <summary>
/// States of an adaptation run, persisted by name. Which moves between them exist is the run owner's
/// (Pipeline.AdaptationRuns.RunLifecycle); this repository moves a row only from the state it is told to expect.
/// </summary>
public enum RunState
{
    /// <summary>Drift detected; run created.</summary>
    Detected = 0,

    /// <summary>Sensitivity scoring in progress.</summary>
    Scoring = 1,

    /// <summary>Sparse tuning in progress.</summary>
    Tuning = 2,

    /// <summary>Evaluation gate running.</summary>
    Evaluating = 3,

    /// <summary>Waiting for an operator.</summary>
    AwaitingApproval = 4,

    /// <summary>Deployment in progress.</summary>
    Deploying = 5,

    /// <summary>Terminal: deployed.</summary>
    Deployed = 6,

    /// <summary>Terminal: rejected (gate or operator or expiry).</summary>
    Rejected = 7,

    /// <summary>Terminal: failed at some stage.</summary>
    Failed = 8,
}

/// <summary>A persisted adaptation run.</summary>
public sealed record AdaptationRun
{
    /// <summary>Run id.</summary>
    public Guid RunId { get; init; }

    /// <summary>Model id.</summary>
    public required string ModelId { get; init; }

    /// <summary>Production version the run adapts.</summary>
    public int BaseVersion { get; init; }

    /// <summary>Current state.</summary>
    public RunState State { get; init; }

    /// <summary>Drift report that triggered the run.</summary>
    public Guid? DriftReportId { get; init; }

    /// <summary>Candidate version once trained.</summary>
    public int? CandidateVersion { get; init; }

    /// <summary>Tuning strategy (mist, full, head, random…).</summary>
    public string? Strategy { get; init; }

    /// <summary>Stage that failed.</summary>
    public string? FailureStage { get; init; }

    /// <summary>Why it failed.</summary>
    public string? FailureReason { get; init; }

    /// <summary>Free-form metrics JSON.</summary>
    public string? MetricsJson { get; init; }

    /// <summary>Stage timestamps.</summary>
    public DateTimeOffset DetectedAt { get; init; }

    /// <summary>Entered Scoring.</summary>
    public DateTimeOffset? ScoringAt { get; init; }

    /// <summary>Entered Tuning.</summary>
    public DateTimeOffset? TuningAt { get; init; }

    /// <summary>Entered Evaluating.</summary>
    public DateTimeOffset? EvaluatingAt { get; init; }

    /// <summary>Entered AwaitingApproval.</summary>
    public DateTimeOffset? AwaitingApprovalAt { get; init; }

    /// <summary>Entered Deploying.</summary>
    public DateTimeOffset? DeployingAt { get; init; }

    /// <summary>Reached a terminal state.</summary>
    public DateTimeOffset? FinishedAt { get; init; }

    /// <summary>Row creation.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>Last change.</summary>
    public DateTimeOffset UpdatedAt { get; init; }
}

/// <summary>What <see cref="IAdaptationRunRepository.TryStartRunAsync"/> inserts.</summary>
public sealed record NewAdaptationRun
{
    /// <summary>Run id (the message RunId).</summary>
    public required Guid RunId { get; init; }

    /// <summary>Model id.</summary>
    public required string ModelId { get; init; }

    /// <summary>Production version being adapted.</summary>
    public required int BaseVersion { get; init; }

    /// <summary>Triggering drift report, if any.</summary>
    public Guid? DriftReportId { get; init; }

    /// <summary>Planned strategy, if known.</summary>
    public string? Strategy { get; init; }

    /// <summary>History detail for the initial entry.</summary>
    public string? Detail { get; init; }
}

/// <summary>Optional column changes applied together with a transition (null: leave as is).</summary>
public sealed record RunUpdate
{
    /// <summary>Candidate version.</summary>
    public int? CandidateVersion { get; init; }

    /// <summary>Strategy.</summary>
    public string? Strategy { get; init; }

    /// <summary>Failed stage.</summary>
    public string? FailureStage { get; init; }

    /// <summary>Failure reason.</summary>
    public string? FailureReason { get; init; }

    /// <summary>Metrics JSON (replaces the previous value).</summary>
    public string? MetricsJson { get; init; }
}

/// <summary>One row of the run history.</summary>
public sealed record RunHistoryEntry
{
    /// <summary>Row id (increasing).</summary>
    public long Id { get; init; }

    /// <summary>Run id.</summary>
    public Guid RunId { get; init; }

    /// <summary>Previous state (null for creation).</summary>
    public RunState? FromState { get; init; }

    /// <summary>New state.</summary>
    public RunState ToState { get; init; }

    /// <summary>When.</summary>
    public DateTimeOffset ChangedAt { get; init; }

    /// <summary>Free text.</summary>
    public string? Detail { get; init; }
}

/// <summary>Adaptation runs: one active run per model, optimistic transitions, history.</summary>
public interface IAdaptationRunRepository
{
    /// <summary>
    /// Creates a run in state Detected. Returns false (does not throw) when the model already has
    /// an active run — the database enforces this with a unique filtered index — or when a run
    /// with this id already exists (redelivery).
    /// </summary>
    Task<bool> TryStartRunAsync(NewAdaptationRun run, CancellationToken cancellationToken = default);

    /// <summary>Gets a run.</summary>
    Task<AdaptationRun?> GetAsync(Guid runId, CancellationToken cancellationToken = default);

    /// <summary>The model's active (non-terminal) run, if any.</summary>
    Task<AdaptationRun?> GetActiveRunAsync(string modelId, CancellationToken cancellationToken = default);

    /// <summary>All active runs (e.g. for approval expiry sweeps), oldest first.</summary>
    Task<IReadOnlyList<AdaptationRun>> ListActiveAsync(CancellationToken cancellationToken = default);

    /// <summary>A model's runs, newest first.</summary>
    Task<IReadOnlyList<AdaptationRun>> ListByModelAsync(string modelId, int limit = 50, CancellationToken cancellationToken = default);

    /// <summary>
    /// Optimistic transition: <c>UPDATE … WHERE run_id = @id AND state = @expected</c>. Returns
    /// false when the run is not in <paramref name="expected"/> (someone else moved it).
    /// Sets the stage timestamp of <paramref name="next"/> and writes a history row.
    /// </summary>
    Task<bool> TryTransitionAsync(Guid runId, RunState expected, RunState next, RunUpdate? update = null, string? detail = null, CancellationToken cancellationToken = default);

    /// <summary>Moves an active run to Failed from whatever state it is in. False when already terminal or missing.</summary>
    Task<bool> TryFailAsync(Guid runId, string stage, string reason, CancellationToken cancellationToken = default);

    /// <summary>Run history, oldest first.</summary>
    Task<IReadOnlyList<RunHistoryEntry>> GetHistoryAsync(Guid runId, CancellationToken cancellationToken = default);
}

/// <summary>Dapper implementation of <see cref="IAdaptationRunRepository"/>.</summary>
public sealed class AdaptationRunRepository : RepositoryBase, IAdaptationRunRepository
{
    /// <summary>Creates the repository.</summary>
    public AdaptationRunRepository(IDbConnectionFactory factory, TimeProvider? time = null)
        : base(factory, time)
    {
    }

    /// <inheritdoc />
    public async Task<bool> TryStartRunAsync(NewAdaptationRun run, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentException.ThrowIfNullOrWhiteSpace(run.ModelId);
        var now = Now;
        try
        {
            await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
            await using var tx = await BeginWriteAsync(c, cancellationToken).ConfigureAwait(false);
            var inserted = await c.ExecuteAsync(Cmd(AdaptationRunSql.InsertIfNoActive, new
            {
                run.RunId,
                run.ModelId,
                run.BaseVersion,
                run.DriftReportId,
                run.Strategy,
                Now = now,
            }, tx, cancellationToken)).ConfigureAwait(false);
            if (inserted == 0)
            {
                await tx.RollbackAsync(cancellationToken).ConfigureAwait(false);
                return false;
            }

            await c.ExecuteAsync(Cmd(AdaptationRunSql.InsertHistory, new
            {
                run.RunId,
                FromState = (string?)null,
                ToState = nameof(RunState.Detected),
                Now = now,
                run.Detail,
            }, tx, cancellationToken)).ConfigureAwait(false);
            await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (IsUniqueViolation(ex))
        {
            // The unique filtered index (or the primary key) caught a concurrent starter.
            return false;
        }
    }

    /// <inheritdoc />
    public async Task<AdaptationRun?> GetAsync(Guid runId, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await c.QuerySingleOrDefaultAsync<AdaptationRun>(Cmd(AdaptationRunSql.Get, new { RunId = runId }, ct: cancellationToken)).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<AdaptationRun?> GetActiveRunAsync(string modelId, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await c.QuerySingleOrDefaultAsync<AdaptationRun>(Cmd(AdaptationRunSql.GetActive, new { ModelId = modelId }, ct: cancellationToken)).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<AdaptationRun>> ListActiveAsync(CancellationToken cancellationToken = default)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return (await c.QueryAsync<AdaptationRun>(Cmd(AdaptationRunSql.ListActive, ct: cancellationToken)).ConfigureAwait(false)).ToList();
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<AdaptationRun>> ListByModelAsync(string modelId, int limit = 50, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return (await c.QueryAsync<AdaptationRun>(Cmd(AdaptationRunSql.ListByModel, new { ModelId = modelId, Limit = limit }, ct: cancellationToken)).ConfigureAwait(false)).ToList();
    }

    /// <inheritdoc />
    public async Task<bool> TryTransitionAsync(Guid runId, RunState expected, RunState next, RunUpdate? update = null, string? detail = null, CancellationToken cancellationToken = default)
    {
        update ??= new RunUpdate();
        var now = Now;
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await BeginWriteAsync(c, cancellationToken).ConfigureAwait(false);
        var changed = await c.ExecuteAsync(Cmd(AdaptationRunSql.Transition, new
        {
            RunId = runId,
            Expected = expected.ToString(),
            To = next.ToString(),
            Now = now,
            update.CandidateVersion,
            update.Strategy,
            update.FailureStage,
            update.FailureReason,
            update.MetricsJson,
        }, tx, cancellationToken)).ConfigureAwait(false);
        if (changed == 0)
        {
            await tx.RollbackAsync(cancellationToken).ConfigureAwait(false);
            return false;
        }

        await c.ExecuteAsync(Cmd(AdaptationRunSql.InsertHistory, new
        {
            RunId = runId,
            FromState = expected.ToString(),
            ToState = next.ToString(),
            Now = now,
            Detail = detail,
        }, tx, cancellationToken)).ConfigureAwait(false);
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <inheritdoc />
    public async Task<bool> TryFailAsync(Guid runId, string stage, string reason, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(stage);
        for (var attempt = 0; attempt < 5; attempt++)
        {
            var run = await GetAsync(runId, cancellationToken).ConfigureAwait(false);
            // finished_at is set on entering a terminal state (AdaptationRunSql.Transition).
            if (run is null || run.FinishedAt is not null)
            {
                return false;
            }

            var update = new RunUpdate { FailureStage = stage, FailureReason = reason };
            if (await TryTransitionAsync(runId, run.State, RunState.Failed, update, $"{stage}: {reason}", cancellationToken).ConfigureAwait(false))
            {
                return true;
            }
        }

        return false;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<RunHistoryEntry>> GetHistoryAsync(Guid runId, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return (await c.QueryAsync<RunHistoryEntry>(Cmd(AdaptationRunSql.History, new { RunId = runId }, ct: cancellationToken)).ConfigureAwait(false)).ToList();
    }
}
