-- 0030_run_owner: the run owner's transactional outbox and its stage timers, and at most one
-- deployment per run.

CREATE TABLE dbo.run_outbox (
    id            BIGINT IDENTITY(1, 1) NOT NULL CONSTRAINT pk_run_outbox PRIMARY KEY,
    run_id        UNIQUEIDENTIFIER NULL,
    destination   NVARCHAR(400)  NULL,
    message_type  NVARCHAR(400)  NOT NULL,
    body          NVARCHAR(MAX)  NOT NULL,
    created_at    DATETIMEOFFSET(7) NOT NULL
);

CREATE TABLE dbo.run_timers (
    run_id        UNIQUEIDENTIFIER NOT NULL CONSTRAINT pk_run_timers PRIMARY KEY
                  CONSTRAINT fk_run_timers_runs REFERENCES dbo.adaptation_runs (run_id),
    state         NVARCHAR(32)   NOT NULL,
    attempt       INT            NOT NULL,
    due_at        DATETIMEOFFSET(7) NOT NULL,
    work_type     NVARCHAR(400)  NULL,
    work_body     NVARCHAR(MAX)  NULL
);
CREATE INDEX ix_run_timers_due ON dbo.run_timers (due_at);

CREATE UNIQUE INDEX ux_deployments_run ON dbo.deployments (run_id)
    WHERE run_id IS NOT NULL AND kind = N'Deploy';
