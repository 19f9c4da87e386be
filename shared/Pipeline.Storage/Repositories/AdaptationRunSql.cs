using Pipeline.Storage.Sql;

namespace Pipeline.Storage.Repositories;

/// <summary>The statements of <see cref="AdaptationRunRepository"/> (SQLite and SQL Server text where they differ).</summary>
[SqlQueries]
internal static class AdaptationRunSql
{
    private const string Active = "state <> 'Deployed' AND state <> 'Rejected' AND state <> 'Failed'";

    public static readonly SqlQuery InsertIfNoActive = new(
        "adaptation_runs.insert_if_no_active",
        $"""
        INSERT INTO dbo.adaptation_runs (run_id, model_id, base_version, state, drift_report_id, strategy, detected_at, created_at, updated_at)
        SELECT @RunId, @ModelId, @BaseVersion, N'Detected', @DriftReportId, @Strategy, @Now, @Now, @Now
        WHERE NOT EXISTS (SELECT 1 FROM dbo.adaptation_runs WITH (UPDLOCK, HOLDLOCK) WHERE (model_id = @ModelId AND {Active}) OR run_id = @RunId);
        """,
        $"""
        INSERT INTO adaptation_runs (run_id, model_id, base_version, state, drift_report_id, strategy, detected_at, created_at, updated_at)
        SELECT @RunId, @ModelId, @BaseVersion, 'Detected', @DriftReportId, @Strategy, @Now, @Now, @Now
        WHERE NOT EXISTS (SELECT 1 FROM adaptation_runs WHERE (model_id = @ModelId AND {Active}) OR run_id = @RunId);
        """);

    public static readonly SqlQuery InsertHistory = new(
        "adaptation_run_history.insert",
        "INSERT INTO dbo.adaptation_run_history (run_id, from_state, to_state, changed_at, detail) VALUES (@RunId, @FromState, @ToState, @Now, @Detail);",
        "INSERT INTO adaptation_run_history (run_id, from_state, to_state, changed_at, detail) VALUES (@RunId, @FromState, @ToState, @Now, @Detail);");

    private const string Columns =
        "run_id AS RunId, model_id AS ModelId, base_version AS BaseVersion, state AS State, drift_report_id AS DriftReportId, " +
        "candidate_version AS CandidateVersion, strategy AS Strategy, failure_stage AS FailureStage, failure_reason AS FailureReason, " +
        "metrics AS MetricsJson, detected_at AS DetectedAt, scoring_at AS ScoringAt, tuning_at AS TuningAt, evaluating_at AS EvaluatingAt, " +
        "awaiting_approval_at AS AwaitingApprovalAt, deploying_at AS DeployingAt, finished_at AS FinishedAt, created_at AS CreatedAt, updated_at AS UpdatedAt";

    public static readonly SqlQuery Get = new(
        "adaptation_runs.get",
        $"SELECT {Columns} FROM dbo.adaptation_runs WHERE run_id = @RunId;",
        $"SELECT {Columns} FROM adaptation_runs WHERE run_id = @RunId;");

    public static readonly SqlQuery GetActive = new(
        "adaptation_runs.get_active",
        $"SELECT {Columns} FROM dbo.adaptation_runs WHERE model_id = @ModelId AND {Active};",
        $"SELECT {Columns} FROM adaptation_runs WHERE model_id = @ModelId AND {Active};");

    public static readonly SqlQuery ListActive = new(
        "adaptation_runs.list_active",
        $"SELECT {Columns} FROM dbo.adaptation_runs WHERE {Active} ORDER BY created_at;",
        $"SELECT {Columns} FROM adaptation_runs WHERE {Active} ORDER BY created_at;");

    public static readonly SqlQuery ListByModel = new(
        "adaptation_runs.list_by_model",
        $"SELECT TOP (@Limit) {Columns} FROM dbo.adaptation_runs WHERE model_id = @ModelId ORDER BY created_at DESC;",
        $"SELECT {Columns} FROM adaptation_runs WHERE model_id = @ModelId ORDER BY created_at DESC LIMIT @Limit;");

    private const string TransitionSet = """
        SET state = @To,
            updated_at = @Now,
            scoring_at = CASE WHEN @To = 'Scoring' THEN @Now ELSE scoring_at END,
            tuning_at = CASE WHEN @To = 'Tuning' THEN @Now ELSE tuning_at END,
            evaluating_at = CASE WHEN @To = 'Evaluating' THEN @Now ELSE evaluating_at END,
            awaiting_approval_at = CASE WHEN @To = 'AwaitingApproval' THEN @Now ELSE awaiting_approval_at END,
            deploying_at = CASE WHEN @To = 'Deploying' THEN @Now ELSE deploying_at END,
            finished_at = CASE WHEN @To IN ('Deployed', 'Rejected', 'Failed') THEN @Now ELSE finished_at END,
            candidate_version = COALESCE(@CandidateVersion, candidate_version),
            strategy = COALESCE(@Strategy, strategy),
            failure_stage = COALESCE(@FailureStage, failure_stage),
            failure_reason = COALESCE(@FailureReason, failure_reason),
            metrics = COALESCE(@MetricsJson, metrics)
        WHERE run_id = @RunId AND state = @Expected;
        """;

    public static readonly SqlQuery Transition = new(
        "adaptation_runs.transition",
        "UPDATE dbo.adaptation_runs " + TransitionSet,
        "UPDATE adaptation_runs " + TransitionSet);

    public static readonly SqlQuery History = new(
        "adaptation_run_history.list",
        "SELECT id AS Id, run_id AS RunId, from_state AS FromState, to_state AS ToState, changed_at AS ChangedAt, detail AS Detail FROM dbo.adaptation_run_history WHERE run_id = @RunId ORDER BY id;",
        "SELECT id AS Id, run_id AS RunId, from_state AS FromState, to_state AS ToState, changed_at AS ChangedAt, detail AS Detail FROM adaptation_run_history WHERE run_id = @RunId ORDER BY id;");
}
