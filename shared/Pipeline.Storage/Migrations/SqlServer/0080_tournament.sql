-- 0080_tournament: a run trains several candidates; the run owner records the policy's choice, every
-- candidate, how the gate measured it and why it won or lost.
CREATE TABLE dbo.run_tournaments (
    run_id         UNIQUEIDENTIFIER NOT NULL CONSTRAINT pk_run_tournaments PRIMARY KEY
                   CONSTRAINT fk_run_tournaments_runs REFERENCES dbo.adaptation_runs (run_id),
    model_id       NVARCHAR(200)  NOT NULL,
    severity       NVARCHAR(32)   NULL,
    drift_score    FLOAT          NULL,
    shift_kind     NVARCHAR(32)   NULL,
    moved_features NVARCHAR(MAX)  NULL,
    label_rows     INT            NULL,
    strategies     NVARCHAR(400)  NULL,
    policy_reason  NVARCHAR(MAX)  NULL,
    winner         NVARCHAR(64)   NULL,
    winner_reason  NVARCHAR(MAX)  NULL,
    created_at     DATETIMEOFFSET(7) NOT NULL
);
CREATE INDEX ix_run_tournaments_model ON dbo.run_tournaments (model_id, created_at);

CREATE TABLE dbo.run_candidates (
    run_id            UNIQUEIDENTIFIER NOT NULL CONSTRAINT fk_run_candidates_runs REFERENCES dbo.adaptation_runs (run_id),
    strategy          NVARCHAR(64)   NOT NULL,
    state             NVARCHAR(16)   NOT NULL CONSTRAINT ck_run_candidates_state CHECK (state IN (N'Training', N'Trained', N'Evaluated', N'Failed')),
    candidate_version INT            NULL,
    train_seconds     FLOAT          NULL,
    decision          NVARCHAR(32)   NULL,
    gain              FLOAT          NULL,
    gain_lower        FLOAT          NULL,
    gain_upper        FLOAT          NULL,
    forgetting        FLOAT          NULL,
    forgetting_lower  FLOAT          NULL,
    forgetting_upper  FLOAT          NULL,
    latency_increase  FLOAT          NULL,
    score             FLOAT          NULL,
    outcome           NVARCHAR(16)   NULL,
    reason            NVARCHAR(MAX)  NULL,
    updated_at        DATETIMEOFFSET(7) NOT NULL,
    CONSTRAINT pk_run_candidates PRIMARY KEY (run_id, strategy)
);
