using System.Data.Common;
using Dapper;
using Pipeline.Storage.Data;
using Pipeline.Storage.Sql;

namespace Pipeline.Storage.Repositories;

/// <summary>A run's tournament: the drift it answers, the policy's choice and reason, and the winner.</summary>
public sealed record TournamentEntry
{
    public required Guid RunId { get; init; }

    public required string ModelId { get; init; }

    public string? Severity { get; init; }

    public double? DriftScore { get; init; }

    /// <summary>The policy's reading of the drift report (intensity, spatial, embedding, mixed, unknown).</summary>
    public string? ShiftKind { get; init; }

    /// <summary>Comma-separated names of the features (or embedding) that moved.</summary>
    public string? MovedFeatures { get; init; }

    public int? LabelRows { get; init; }

    /// <summary>Comma-separated strategies that entered.</summary>
    public string? Strategies { get; init; }

    public string? PolicyReason { get; init; }

    public string? Winner { get; init; }

    public string? WinnerReason { get; init; }

    public DateTimeOffset CreatedAt { get; init; }
}

public enum CandidateState
{
    Training,
    Trained,
    Evaluated,
    Failed,
}

/// <summary>One candidate of a tournament and what became of it.</summary>
public sealed record CandidateEntry
{
    public required Guid RunId { get; init; }

    public required string Strategy { get; init; }

    public CandidateState State { get; init; }

    public int? CandidateVersion { get; init; }

    public double? TrainSeconds { get; init; }

    /// <summary>The gate's decision on this candidate alone (Approve, Reject, AskOperator).</summary>
    public string? Decision { get; init; }

    public double? Gain { get; init; }

    public double? GainLower { get; init; }

    public double? GainUpper { get; init; }

    public double? Forgetting { get; init; }

    public double? ForgettingLower { get; init; }

    public double? ForgettingUpper { get; init; }

    public double? LatencyIncrease { get; init; }

    public double? Score { get; init; }

    /// <summary>winner or lost, once the tournament is decided.</summary>
    public string? Outcome { get; init; }

    /// <summary>Why it failed, won or lost.</summary>
    public string? Reason { get; init; }

    public DateTimeOffset UpdatedAt { get; init; }
}

/// <summary>Reads of tournaments, and the one write the run owner makes between transitions.</summary>
public interface ITournamentStore
{
    /// <summary>
    /// Writes <paramref name="candidate"/> while the run is in <paramref name="state"/> (the run's row is locked for
    /// the transaction, so concurrent results of one run are serialised) and returns every candidate of the run as
    /// committed; null when the run is elsewhere (a late or duplicate result): nothing is written.
    /// </summary>
    Task<IReadOnlyList<CandidateEntry>?> RecordCandidateAsync(RunState state, CandidateEntry candidate, CancellationToken cancellationToken = default);

    Task<TournamentEntry?> GetAsync(Guid runId, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<CandidateEntry>> ListCandidatesAsync(Guid runId, CancellationToken cancellationToken = default);

    /// <summary>The model's decided tournaments (a winner or none), newest first.</summary>
    Task<IReadOnlyList<TournamentEntry>> ListDecidedAsync(string modelId, int limit, CancellationToken cancellationToken = default);
}

[SqlQueries]
internal static class TournamentSql
{
    private const string TournamentColumns =
        "run_id AS RunId, model_id AS ModelId, severity AS Severity, drift_score AS DriftScore, shift_kind AS ShiftKind, " +
        "moved_features AS MovedFeatures, label_rows AS LabelRows, strategies AS Strategies, policy_reason AS PolicyReason, " +
        "winner AS Winner, winner_reason AS WinnerReason, created_at AS CreatedAt";

    private const string CandidateColumns =
        "run_id AS RunId, strategy AS Strategy, state AS State, candidate_version AS CandidateVersion, train_seconds AS TrainSeconds, " +
        "decision AS Decision, gain AS Gain, gain_lower AS GainLower, gain_upper AS GainUpper, forgetting AS Forgetting, " +
        "forgetting_lower AS ForgettingLower, forgetting_upper AS ForgettingUpper, latency_increase AS LatencyIncrease, score AS Score, " +
        "outcome AS Outcome, reason AS Reason, updated_at AS UpdatedAt";

    private const string TournamentValues =
        "(run_id, model_id, severity, drift_score, shift_kind, moved_features, label_rows, strategies, policy_reason, winner, winner_reason, created_at) " +
        "VALUES (@RunId, @ModelId, @Severity, @DriftScore, @ShiftKind, @MovedFeatures, @LabelRows, @Strategies, @PolicyReason, @Winner, @WinnerReason, @CreatedAt);";

    private const string CandidateValues =
        "(run_id, strategy, state, candidate_version, train_seconds, decision, gain, gain_lower, gain_upper, forgetting, forgetting_lower, " +
        "forgetting_upper, latency_increase, score, outcome, reason, updated_at) VALUES (@RunId, @Strategy, @State, @CandidateVersion, " +
        "@TrainSeconds, @Decision, @Gain, @GainLower, @GainUpper, @Forgetting, @ForgettingLower, @ForgettingUpper, @LatencyIncrease, @Score, " +
        "@Outcome, @Reason, @Now);";

    public static readonly SqlQuery DeleteTournament = new(
        "run_tournaments.delete",
        "DELETE FROM dbo.run_tournaments WHERE run_id = @RunId;",
        "DELETE FROM run_tournaments WHERE run_id = @RunId;");

    public static readonly SqlQuery InsertTournament = new(
        "run_tournaments.insert",
        "INSERT INTO dbo.run_tournaments " + TournamentValues,
        "INSERT INTO run_tournaments " + TournamentValues);

    public static readonly SqlQuery GetTournament = new(
        "run_tournaments.get",
        $"SELECT {TournamentColumns} FROM dbo.run_tournaments WHERE run_id = @RunId;",
        $"SELECT {TournamentColumns} FROM run_tournaments WHERE run_id = @RunId;");

    public static readonly SqlQuery ListDecided = new(
        "run_tournaments.list_decided",
        $"SELECT TOP (@Limit) {TournamentColumns} FROM dbo.run_tournaments WHERE model_id = @ModelId AND strategies IS NOT NULL AND winner_reason IS NOT NULL ORDER BY created_at DESC;",
        $"SELECT {TournamentColumns} FROM run_tournaments WHERE model_id = @ModelId AND strategies IS NOT NULL AND winner_reason IS NOT NULL ORDER BY created_at DESC LIMIT @Limit;");

    public static readonly SqlQuery DeleteCandidate = new(
        "run_candidates.delete",
        "DELETE FROM dbo.run_candidates WHERE run_id = @RunId AND strategy = @Strategy;",
        "DELETE FROM run_candidates WHERE run_id = @RunId AND strategy = @Strategy;");

    public static readonly SqlQuery InsertCandidate = new(
        "run_candidates.insert",
        "INSERT INTO dbo.run_candidates " + CandidateValues,
        "INSERT INTO run_candidates " + CandidateValues);

    public static readonly SqlQuery ListCandidates = new(
        "run_candidates.list",
        $"SELECT {CandidateColumns} FROM dbo.run_candidates WHERE run_id = @RunId ORDER BY strategy;",
        $"SELECT {CandidateColumns} FROM run_candidates WHERE run_id = @RunId ORDER BY strategy;");

    /// <summary>Locks the run's row for the transaction while it is in the given state (0 rows: it is not).</summary>
    public static readonly SqlQuery LockRun = new(
        "run_candidates.lock_run",
        "UPDATE dbo.adaptation_runs SET updated_at = @Now WHERE run_id = @RunId AND state = @State;",
        "UPDATE adaptation_runs SET updated_at = @Now WHERE run_id = @RunId AND state = @State;");
}

/// <summary>Dapper implementation of <see cref="ITournamentStore"/>; <see cref="RunStepStore"/> writes the same rows inside a step.</summary>
public sealed class TournamentStore(IDbConnectionFactory factory, TimeProvider? time = null) : RepositoryBase(factory, time), ITournamentStore
{
    /// <inheritdoc />
    public async Task<IReadOnlyList<CandidateEntry>?> RecordCandidateAsync(RunState state, CandidateEntry candidate, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await BeginWriteAsync(c, cancellationToken).ConfigureAwait(false);
        var locked = await c.ExecuteAsync(Cmd(TournamentSql.LockRun, new { candidate.RunId, State = state.ToString(), Now }, tx, cancellationToken)).ConfigureAwait(false);
        if (locked == 0)
        {
            await tx.RollbackAsync(cancellationToken).ConfigureAwait(false);
            return null;
        }

        await WriteCandidateAsync(c, tx, Factory.Dialect, candidate, Now, cancellationToken).ConfigureAwait(false);
        var all = (await c.QueryAsync<CandidateEntry>(Cmd(TournamentSql.ListCandidates, new { candidate.RunId }, tx, cancellationToken)).ConfigureAwait(false)).ToList();
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return all;
    }

    /// <inheritdoc />
    public async Task<TournamentEntry?> GetAsync(Guid runId, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await c.QuerySingleOrDefaultAsync<TournamentEntry>(Cmd(TournamentSql.GetTournament, new { RunId = runId }, ct: cancellationToken)).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<CandidateEntry>> ListCandidatesAsync(Guid runId, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return (await c.QueryAsync<CandidateEntry>(Cmd(TournamentSql.ListCandidates, new { RunId = runId }, ct: cancellationToken)).ConfigureAwait(false)).ToList();
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<TournamentEntry>> ListDecidedAsync(string modelId, int limit, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return (await c.QueryAsync<TournamentEntry>(Cmd(TournamentSql.ListDecided, new { ModelId = modelId, Limit = limit }, ct: cancellationToken)).ConfigureAwait(false)).ToList();
    }

    /// <summary>Replaces the tournament row inside a run step's transaction.</summary>
    internal static async Task WriteTournamentAsync(DbConnection c, DbTransaction tx, SqlDialect dialect, TournamentEntry t, DateTimeOffset now, CancellationToken ct)
    {
        await c.ExecuteAsync(new CommandDefinition(TournamentSql.DeleteTournament.For(dialect), new { t.RunId }, tx, cancellationToken: ct)).ConfigureAwait(false);
        await c.ExecuteAsync(new CommandDefinition(TournamentSql.InsertTournament.For(dialect),
            t with { CreatedAt = t.CreatedAt == default ? now : t.CreatedAt }, tx, cancellationToken: ct)).ConfigureAwait(false);
    }

    /// <summary>Replaces one candidate row inside a transaction.</summary>
    internal static async Task WriteCandidateAsync(DbConnection c, DbTransaction tx, SqlDialect dialect, CandidateEntry e, DateTimeOffset now, CancellationToken ct)
    {
        await c.ExecuteAsync(new CommandDefinition(TournamentSql.DeleteCandidate.For(dialect), new { e.RunId, e.Strategy }, tx, cancellationToken: ct)).ConfigureAwait(false);
        await c.ExecuteAsync(new CommandDefinition(TournamentSql.InsertCandidate.For(dialect), new
        {
            e.RunId, e.Strategy, State = e.State.ToString(), e.CandidateVersion, e.TrainSeconds, e.Decision, e.Gain, e.GainLower, e.GainUpper,
            e.Forgetting, e.ForgettingLower, e.ForgettingUpper, e.LatencyIncrease, e.Score, e.Outcome, e.Reason, Now = now,
        }, tx, cancellationToken: ct)).ConfigureAwait(false);
    }
}
