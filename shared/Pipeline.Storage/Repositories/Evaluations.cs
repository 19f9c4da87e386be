using Dapper;
using Pipeline.Storage.Data;
using Pipeline.Storage.Sql;

namespace Pipeline.Storage.Repositories;

/// <summary>The evaluation gate's result for a run.</summary>
public sealed record EvaluationRecord
{
    /// <summary>Run id.</summary>
    public Guid RunId { get; init; }

    /// <summary>Candidate version.</summary>
    public int CandidateVersion { get; init; }

    /// <summary>Production version it was compared with.</summary>
    public int ProductionVersion { get; init; }

    /// <summary>Accuracy on the original holdout before adaptation.</summary>
    public double AccOriginalBefore { get; init; }

    /// <summary>Accuracy on the original holdout after adaptation.</summary>
    public double AccOriginalAfter { get; init; }

    /// <summary>Accuracy on the shifted holdout before adaptation.</summary>
    public double AccShiftedBefore { get; init; }

    /// <summary>Accuracy on the shifted holdout after adaptation.</summary>
    public double AccShiftedAfter { get; init; }

    /// <summary>AccOriginalBefore − AccOriginalAfter.</summary>
    public double Forgetting { get; init; }

    /// <summary>Candidate inference latency (ms).</summary>
    public double LatencyMs { get; init; }

    /// <summary>Confidence interval of the gain on the shifted holdout (null for evaluations stored before intervals).</summary>
    public double? GainLower { get; init; }

    public double? GainUpper { get; init; }

    /// <summary>Confidence interval of the forgetting on the original holdout.</summary>
    public double? ForgettingLower { get; init; }

    public double? ForgettingUpper { get; init; }

    /// <summary>Confidence level of both intervals.</summary>
    public double? Confidence { get; init; }

    public int? ShiftedRows { get; init; }

    public int? OriginalRows { get; init; }

    /// <summary>Gate decision (e.g. approve, reject, await_approval).</summary>
    public required string Decision { get; init; }

    /// <summary>Reasons JSON array.</summary>
    public string? ReasonsJson { get; init; }

    /// <summary>When stored (set by the repository when default).</summary>
    public DateTimeOffset CreatedAt { get; init; }
}

/// <summary>Evaluation results, one per run.</summary>
public interface IEvaluationRepository
{
    /// <summary>Inserts or replaces the run's evaluation (idempotent on redelivery).</summary>
    Task UpsertAsync(EvaluationRecord evaluation, CancellationToken cancellationToken = default);

    /// <summary>Gets the run's evaluation.</summary>
    Task<EvaluationRecord?> GetAsync(Guid runId, CancellationToken cancellationToken = default);
}

[SqlQueries]
internal static class EvaluationSql
{
    public static readonly SqlQuery Upsert = new(
        "evaluations.upsert",
        """
        UPDATE dbo.evaluations WITH (UPDLOCK, SERIALIZABLE)
        SET candidate_version = @CandidateVersion, production_version = @ProductionVersion, acc_original_before = @AccOriginalBefore,
            acc_original_after = @AccOriginalAfter, acc_shifted_before = @AccShiftedBefore, acc_shifted_after = @AccShiftedAfter,
            forgetting = @Forgetting, latency_ms = @LatencyMs, decision = @Decision, reasons = @ReasonsJson, created_at = @CreatedAt,
            gain_lower = @GainLower, gain_upper = @GainUpper, forgetting_lower = @ForgettingLower, forgetting_upper = @ForgettingUpper,
            confidence = @Confidence, shifted_rows = @ShiftedRows, original_rows = @OriginalRows
        WHERE run_id = @RunId;
        IF @@ROWCOUNT = 0
            INSERT INTO dbo.evaluations (run_id, candidate_version, production_version, acc_original_before, acc_original_after, acc_shifted_before, acc_shifted_after, forgetting, latency_ms, decision, reasons, created_at,
                gain_lower, gain_upper, forgetting_lower, forgetting_upper, confidence, shifted_rows, original_rows)
            VALUES (@RunId, @CandidateVersion, @ProductionVersion, @AccOriginalBefore, @AccOriginalAfter, @AccShiftedBefore, @AccShiftedAfter, @Forgetting, @LatencyMs, @Decision, @ReasonsJson, @CreatedAt,
                @GainLower, @GainUpper, @ForgettingLower, @ForgettingUpper, @Confidence, @ShiftedRows, @OriginalRows);
        """,
        """
        INSERT INTO evaluations (run_id, candidate_version, production_version, acc_original_before, acc_original_after, acc_shifted_before, acc_shifted_after, forgetting, latency_ms, decision, reasons, created_at,
            gain_lower, gain_upper, forgetting_lower, forgetting_upper, confidence, shifted_rows, original_rows)
        VALUES (@RunId, @CandidateVersion, @ProductionVersion, @AccOriginalBefore, @AccOriginalAfter, @AccShiftedBefore, @AccShiftedAfter, @Forgetting, @LatencyMs, @Decision, @ReasonsJson, @CreatedAt,
            @GainLower, @GainUpper, @ForgettingLower, @ForgettingUpper, @Confidence, @ShiftedRows, @OriginalRows)
        ON CONFLICT (run_id) DO UPDATE SET candidate_version = excluded.candidate_version, production_version = excluded.production_version,
            acc_original_before = excluded.acc_original_before, acc_original_after = excluded.acc_original_after,
            acc_shifted_before = excluded.acc_shifted_before, acc_shifted_after = excluded.acc_shifted_after,
            forgetting = excluded.forgetting, latency_ms = excluded.latency_ms, decision = excluded.decision,
            reasons = excluded.reasons, created_at = excluded.created_at,
            gain_lower = excluded.gain_lower, gain_upper = excluded.gain_upper, forgetting_lower = excluded.forgetting_lower,
            forgetting_upper = excluded.forgetting_upper, confidence = excluded.confidence, shifted_rows = excluded.shifted_rows,
            original_rows = excluded.original_rows;
        """);

    private const string Columns =
        "run_id AS RunId, candidate_version AS CandidateVersion, production_version AS ProductionVersion, acc_original_before AS AccOriginalBefore, " +
        "acc_original_after AS AccOriginalAfter, acc_shifted_before AS AccShiftedBefore, acc_shifted_after AS AccShiftedAfter, forgetting AS Forgetting, " +
        "latency_ms AS LatencyMs, decision AS Decision, reasons AS ReasonsJson, created_at AS CreatedAt, " +
        "gain_lower AS GainLower, gain_upper AS GainUpper, forgetting_lower AS ForgettingLower, forgetting_upper AS ForgettingUpper, " +
        "confidence AS Confidence, shifted_rows AS ShiftedRows, original_rows AS OriginalRows";

    public static readonly SqlQuery Get = new(
        "evaluations.get",
        $"SELECT {Columns} FROM dbo.evaluations WHERE run_id = @RunId;",
        $"SELECT {Columns} FROM evaluations WHERE run_id = @RunId;");
}

/// <summary>Dapper implementation of <see cref="IEvaluationRepository"/>.</summary>
public sealed class EvaluationRepository : RepositoryBase, IEvaluationRepository
{
    /// <summary>Creates the repository.</summary>
    public EvaluationRepository(IDbConnectionFactory factory, TimeProvider? time = null)
        : base(factory, time)
    {
    }

    /// <inheritdoc />
    public async Task UpsertAsync(EvaluationRecord evaluation, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(evaluation);
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await c.ExecuteAsync(Cmd(EvaluationSql.Upsert, new
        {
            evaluation.RunId,
            evaluation.CandidateVersion,
            evaluation.ProductionVersion,
            evaluation.AccOriginalBefore,
            evaluation.AccOriginalAfter,
            evaluation.AccShiftedBefore,
            evaluation.AccShiftedAfter,
            evaluation.Forgetting,
            evaluation.LatencyMs,
            evaluation.Decision,
            evaluation.ReasonsJson,
            evaluation.GainLower,
            evaluation.GainUpper,
            evaluation.ForgettingLower,
            evaluation.ForgettingUpper,
            evaluation.Confidence,
            evaluation.ShiftedRows,
            evaluation.OriginalRows,
            CreatedAt = evaluation.CreatedAt == default ? Now : evaluation.CreatedAt,
        }, ct: cancellationToken)).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<EvaluationRecord?> GetAsync(Guid runId, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await c.QuerySingleOrDefaultAsync<EvaluationRecord>(Cmd(EvaluationSql.Get, new { RunId = runId }, ct: cancellationToken)).ConfigureAwait(false);
    }
}
