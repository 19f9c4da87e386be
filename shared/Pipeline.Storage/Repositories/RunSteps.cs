using System.Data.Common;
using Dapper;
using Pipeline.Storage.Data;
using Pipeline.Storage.Sql;

namespace Pipeline.Storage.Repositories;

/// <summary>
/// A message a run transition causes: a serialized body, its type, where it goes (null: published) and
/// the trace context it was caused in (W3C traceparent; the current activity's when not given) and the hop stamp of
/// the consume that caused it (Pipeline.Hosting.HopStamp, encoded; relayed as message headers).
/// </summary>
public sealed record OutgoingMessage(string MessageType, string Body, string? Destination = null)
{
    public string? TraceParent { get; init; } = System.Diagnostics.Activity.Current?.Id;

    public string? HopStamp { get; init; }
}

/// <summary>A relayed-once-committed message of the outbox.</summary>
public sealed record OutboxEntry
{
    public long Id { get; init; }

    public Guid? RunId { get; init; }

    public string? Destination { get; init; }

    public required string MessageType { get; init; }

    public required string Body { get; init; }

    public string? TraceParent { get; init; }

    public string? HopStamp { get; init; }

    /// <summary>When the transition that wrote the row began (its transaction's time).</summary>
    public DateTimeOffset CreatedAt { get; init; }
}

/// <summary>The run's single timer: when its current stage is due and the work to re-send then.</summary>
public sealed record RunTimer
{
    public required Guid RunId { get; init; }

    public required RunState State { get; init; }

    public int Attempt { get; init; } = 1;

    public required DateTimeOffset DueAt { get; init; }

    public string? WorkType { get; init; }

    public string? WorkBody { get; init; }
}

/// <summary>
/// One move of a run, applied in one transaction: the optimistic transition, its history row, the
/// messages it causes (outbox), the run's next timer (replacing the old one; none after a terminal
/// state) and, for a decision, its audit row.
/// </summary>
public sealed record RunStep
{
    public required Guid RunId { get; init; }

    public required RunState Expected { get; init; }

    public required RunState Next { get; init; }

    public RunUpdate? Update { get; init; }

    public string? Detail { get; init; }

    public IReadOnlyList<OutgoingMessage> Messages { get; init; } = [];

    public RunTimer? Timer { get; init; }

    public ApprovalRecord? Approval { get; init; }

    /// <summary>The run's tournament row, replaced in the same transaction (null: unchanged).</summary>
    public TournamentEntry? Tournament { get; init; }

    /// <summary>Candidate rows replaced in the same transaction.</summary>
    public IReadOnlyList<CandidateEntry> Candidates { get; init; } = [];
}

/// <summary>The run owner's writes: every change of a run together with the messages and timer it causes.</summary>
public interface IRunStepStore
{
    /// <summary>Creates the run (Detected) and applies <paramref name="first"/> in the same transaction. False: the model has an active run, or the run exists.</summary>
    Task<bool> TryStartAsync(NewAdaptationRun run, RunStep first, CancellationToken cancellationToken = default);

    /// <summary>False when the run is not in <see cref="RunStep.Expected"/> (a duplicate or late message): nothing is written.</summary>
    Task<bool> TryStepAsync(RunStep step, CancellationToken cancellationToken = default);

    /// <summary>
    /// Re-arms the timer of a run still in <paramref name="state"/> at <paramref name="attempt"/>: new attempt, due time,
    /// and messages (the re-sent work). False when the run or its timer moved on.
    /// </summary>
    Task<bool> TryRearmAsync(Guid runId, RunState state, int attempt, int nextAttempt, DateTimeOffset dueAt,
        IReadOnlyList<OutgoingMessage> messages, CancellationToken cancellationToken = default);

    /// <summary>Timers due at <paramref name="now"/>, oldest first.</summary>
    Task<IReadOnlyList<RunTimer>> ListDueAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken = default);

    /// <summary>The run's timer, if it has one.</summary>
    Task<RunTimer?> GetTimerAsync(Guid runId, CancellationToken cancellationToken = default);

    /// <summary>Outbox entries not yet relayed, oldest first.</summary>
    Task<IReadOnlyList<OutboxEntry>> PeekOutboxAsync(int limit, CancellationToken cancellationToken = default);

    /// <summary>Removes a relayed entry.</summary>
    Task DeleteOutboxAsync(long id, CancellationToken cancellationToken = default);
}

[SqlQueries]
internal static class RunStepSql
{
    public static readonly SqlQuery InsertOutbox = new(
        "run_outbox.insert",
        "INSERT INTO dbo.run_outbox (run_id, destination, message_type, body, created_at, trace_parent, hop_stamp) VALUES (@RunId, @Destination, @MessageType, @Body, @Now, @TraceParent, @HopStamp);",
        "INSERT INTO run_outbox (run_id, destination, message_type, body, created_at, trace_parent, hop_stamp) VALUES (@RunId, @Destination, @MessageType, @Body, @Now, @TraceParent, @HopStamp);");

    public static readonly SqlQuery PeekOutbox = new(
        "run_outbox.peek",
        "SELECT TOP (@Limit) id AS Id, run_id AS RunId, destination AS Destination, message_type AS MessageType, body AS Body, trace_parent AS TraceParent, hop_stamp AS HopStamp, created_at AS CreatedAt FROM dbo.run_outbox ORDER BY id;",
        "SELECT id AS Id, run_id AS RunId, destination AS Destination, message_type AS MessageType, body AS Body, trace_parent AS TraceParent, hop_stamp AS HopStamp, created_at AS CreatedAt FROM run_outbox ORDER BY id LIMIT @Limit;");

    public static readonly SqlQuery DeleteOutbox = new(
        "run_outbox.delete",
        "DELETE FROM dbo.run_outbox WHERE id = @Id;",
        "DELETE FROM run_outbox WHERE id = @Id;");

    public static readonly SqlQuery DeleteTimer = new(
        "run_timers.delete",
        "DELETE FROM dbo.run_timers WHERE run_id = @RunId;",
        "DELETE FROM run_timers WHERE run_id = @RunId;");

    public static readonly SqlQuery InsertTimer = new(
        "run_timers.insert",
        "INSERT INTO dbo.run_timers (run_id, state, attempt, due_at, work_type, work_body) VALUES (@RunId, @State, @Attempt, @DueAt, @WorkType, @WorkBody);",
        "INSERT INTO run_timers (run_id, state, attempt, due_at, work_type, work_body) VALUES (@RunId, @State, @Attempt, @DueAt, @WorkType, @WorkBody);");

    public static readonly SqlQuery Rearm = new(
        "run_timers.rearm",
        "UPDATE dbo.run_timers SET attempt = @NextAttempt, due_at = @DueAt WHERE run_id = @RunId AND state = @State AND attempt = @Attempt;",
        "UPDATE run_timers SET attempt = @NextAttempt, due_at = @DueAt WHERE run_id = @RunId AND state = @State AND attempt = @Attempt;");

    private const string TimerColumns = "run_id AS RunId, state AS State, attempt AS Attempt, due_at AS DueAt, work_type AS WorkType, work_body AS WorkBody";

    public static readonly SqlQuery ListDue = new(
        "run_timers.list_due",
        $"SELECT TOP (@Limit) {TimerColumns} FROM dbo.run_timers WHERE due_at <= @Now ORDER BY due_at;",
        $"SELECT {TimerColumns} FROM run_timers WHERE due_at <= @Now ORDER BY due_at LIMIT @Limit;");

    public static readonly SqlQuery GetTimer = new(
        "run_timers.get",
        $"SELECT {TimerColumns} FROM dbo.run_timers WHERE run_id = @RunId;",
        $"SELECT {TimerColumns} FROM run_timers WHERE run_id = @RunId;");
}

/// <summary>Dapper implementation of <see cref="IRunStepStore"/>.</summary>
public sealed class RunStepStore : RepositoryBase, IRunStepStore
{
    public RunStepStore(IDbConnectionFactory factory, TimeProvider? time = null)
        : base(factory, time)
    {
    }

    /// <inheritdoc />
    public async Task<bool> TryStartAsync(NewAdaptationRun run, RunStep first, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(first);
        var now = Now;
        try
        {
            await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
            await using var tx = await BeginWriteAsync(c, cancellationToken).ConfigureAwait(false);
            var inserted = await c.ExecuteAsync(Cmd(AdaptationRunSql.InsertIfNoActive, new
            {
                run.RunId, run.ModelId, run.BaseVersion, run.DriftReportId, run.Strategy, Now = now,
            }, tx, cancellationToken)).ConfigureAwait(false);
            if (inserted == 0)
            {
                await tx.RollbackAsync(cancellationToken).ConfigureAwait(false);
                return false;
            }

            await c.ExecuteAsync(Cmd(AdaptationRunSql.InsertHistory, new
            {
                run.RunId, FromState = (string?)null, ToState = nameof(RunState.Detected), Now = now, run.Detail,
            }, tx, cancellationToken)).ConfigureAwait(false);
            if (!await ApplyAsync(c, tx, first, now, cancellationToken).ConfigureAwait(false))
            {
                await tx.RollbackAsync(cancellationToken).ConfigureAwait(false);
                return false;
            }

            await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (IsUniqueViolation(ex))
        {
            // The one-active-run index (or the primary key) caught a concurrent starter.
            return false;
        }
    }

    /// <inheritdoc />
    public async Task<bool> TryStepAsync(RunStep step, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(step);
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await BeginWriteAsync(c, cancellationToken).ConfigureAwait(false);
        if (!await ApplyAsync(c, tx, step, Now, cancellationToken).ConfigureAwait(false))
        {
            await tx.RollbackAsync(cancellationToken).ConfigureAwait(false);
            return false;
        }

        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    private async Task<bool> ApplyAsync(DbConnection c, DbTransaction tx, RunStep step, DateTimeOffset now, CancellationToken ct)
    {
        var update = step.Update ?? new RunUpdate();
        var changed = await c.ExecuteAsync(Cmd(AdaptationRunSql.Transition, new
        {
            step.RunId, Expected = step.Expected.ToString(), To = step.Next.ToString(), Now = now,
            update.CandidateVersion, update.Strategy, update.FailureStage, update.FailureReason, update.MetricsJson,
        }, tx, ct)).ConfigureAwait(false);
        if (changed == 0)
        {
            return false;
        }

        await c.ExecuteAsync(Cmd(AdaptationRunSql.InsertHistory, new
        {
            step.RunId, FromState = step.Expected.ToString(), ToState = step.Next.ToString(), Now = now, step.Detail,
        }, tx, ct)).ConfigureAwait(false);
        await InsertMessagesAsync(c, tx, step.RunId, step.Messages, now, ct).ConfigureAwait(false);
        await c.ExecuteAsync(Cmd(RunStepSql.DeleteTimer, new { step.RunId }, tx, ct)).ConfigureAwait(false);
        if (step.Timer is { } timer)
        {
            await c.ExecuteAsync(Cmd(RunStepSql.InsertTimer, new
            {
                step.RunId, State = timer.State.ToString(), timer.Attempt, timer.DueAt, timer.WorkType, timer.WorkBody,
            }, tx, ct)).ConfigureAwait(false);
        }

        if (step.Tournament is { } tournament)
        {
            await TournamentStore.WriteTournamentAsync(c, tx, Factory.Dialect, tournament, now, ct).ConfigureAwait(false);
        }

        foreach (var candidate in step.Candidates)
        {
            await TournamentStore.WriteCandidateAsync(c, tx, Factory.Dialect, candidate, now, ct).ConfigureAwait(false);
        }

        if (step.Approval is { } approval)
        {
            await c.ExecuteAsync(Cmd(ApprovalSql.Insert, new
            {
                step.RunId, Decision = approval.Decision.ToString(), approval.DecidedBy, Mode = approval.Mode.ToString(),
                approval.Reason, DecidedAt = now,
            }, tx, ct)).ConfigureAwait(false);
        }

        return true;
    }

    private async Task InsertMessagesAsync(DbConnection c, DbTransaction tx, Guid runId, IReadOnlyList<OutgoingMessage> messages, DateTimeOffset now, CancellationToken ct)
    {
        foreach (var m in messages)
        {
            await c.ExecuteAsync(Cmd(RunStepSql.InsertOutbox, new
            {
                RunId = runId, m.Destination, m.MessageType, m.Body, Now = now, m.TraceParent, m.HopStamp,
            }, tx, ct)).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async Task<bool> TryRearmAsync(Guid runId, RunState state, int attempt, int nextAttempt, DateTimeOffset dueAt,
        IReadOnlyList<OutgoingMessage> messages, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await BeginWriteAsync(c, cancellationToken).ConfigureAwait(false);
        var changed = await c.ExecuteAsync(Cmd(RunStepSql.Rearm, new
        {
            RunId = runId, State = state.ToString(), Attempt = attempt, NextAttempt = nextAttempt, DueAt = dueAt,
        }, tx, cancellationToken)).ConfigureAwait(false);
        if (changed == 0)
        {
            await tx.RollbackAsync(cancellationToken).ConfigureAwait(false);
            return false;
        }

        await InsertMessagesAsync(c, tx, runId, messages, Now, cancellationToken).ConfigureAwait(false);
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<RunTimer>> ListDueAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return (await c.QueryAsync<RunTimer>(Cmd(RunStepSql.ListDue, new { Now = now, Limit = limit }, ct: cancellationToken)).ConfigureAwait(false)).ToList();
    }

    /// <inheritdoc />
    public async Task<RunTimer?> GetTimerAsync(Guid runId, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await c.QuerySingleOrDefaultAsync<RunTimer>(Cmd(RunStepSql.GetTimer, new { RunId = runId }, ct: cancellationToken)).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<OutboxEntry>> PeekOutboxAsync(int limit, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return (await c.QueryAsync<OutboxEntry>(Cmd(RunStepSql.PeekOutbox, new { Limit = limit }, ct: cancellationToken)).ConfigureAwait(false)).ToList();
    }

    /// <inheritdoc />
    public async Task DeleteOutboxAsync(long id, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await c.ExecuteAsync(Cmd(RunStepSql.DeleteOutbox, new { Id = id }, ct: cancellationToken)).ConfigureAwait(false);
    }
}
