-- 0001_initial: pipeline state (SQL Server). Applied by MigrationRunner inside one transaction
-- under sp_getapplock; batches are separated by GO lines.

CREATE TABLE dbo.models (
    model_id      NVARCHAR(200)  NOT NULL CONSTRAINT pk_models PRIMARY KEY,
    display_name  NVARCHAR(400)  NULL,
    created_at    DATETIMEOFFSET(7) NOT NULL
);

CREATE TABLE dbo.model_versions (
    model_id      NVARCHAR(200)  NOT NULL CONSTRAINT fk_model_versions_models REFERENCES dbo.models (model_id),
    version       INT            NOT NULL,
    artifact_uri  NVARCHAR(1000) NOT NULL,
    sha256        CHAR(64)       NOT NULL,
    architecture  NVARCHAR(200)  NOT NULL,
    input_shape   NVARCHAR(400)  NOT NULL,
    classes       NVARCHAR(MAX)  NOT NULL,
    params_total  BIGINT         NOT NULL,
    created_at    DATETIMEOFFSET(7) NOT NULL,
    created_by    NVARCHAR(200)  NOT NULL,
    metadata      NVARCHAR(MAX)  NULL,
    CONSTRAINT pk_model_versions PRIMARY KEY (model_id, version)
);

CREATE TABLE dbo.production_aliases (
    model_id      NVARCHAR(200)  NOT NULL CONSTRAINT pk_production_aliases PRIMARY KEY,
    version       INT            NOT NULL,
    set_at        DATETIMEOFFSET(7) NOT NULL,
    set_by        NVARCHAR(200)  NOT NULL,
    reason        NVARCHAR(2000) NULL,
    CONSTRAINT fk_production_aliases_versions FOREIGN KEY (model_id, version) REFERENCES dbo.model_versions (model_id, version)
);

CREATE TABLE dbo.production_alias_history (
    id            BIGINT IDENTITY(1, 1) NOT NULL CONSTRAINT pk_production_alias_history PRIMARY KEY,
    model_id      NVARCHAR(200)  NOT NULL CONSTRAINT fk_production_alias_history_models REFERENCES dbo.models (model_id),
    from_version  INT            NULL,
    to_version    INT            NOT NULL,
    changed_at    DATETIMEOFFSET(7) NOT NULL,
    changed_by    NVARCHAR(200)  NOT NULL,
    reason        NVARCHAR(2000) NULL
);
CREATE INDEX ix_production_alias_history_model ON dbo.production_alias_history (model_id, id);

CREATE TABLE dbo.drift_reference_profiles (
    model_id      NVARCHAR(200)  NOT NULL,
    version       INT            NOT NULL,
    profile_uri   NVARCHAR(1000) NOT NULL,
    sha256        CHAR(64)       NOT NULL,
    created_at    DATETIMEOFFSET(7) NOT NULL,
    CONSTRAINT pk_drift_reference_profiles PRIMARY KEY (model_id, version),
    CONSTRAINT fk_drift_reference_profiles_versions FOREIGN KEY (model_id, version) REFERENCES dbo.model_versions (model_id, version)
);

CREATE TABLE dbo.drift_reports (
    report_id     UNIQUEIDENTIFIER NOT NULL CONSTRAINT pk_drift_reports PRIMARY KEY,
    model_id      NVARCHAR(200)  NOT NULL CONSTRAINT fk_drift_reports_models REFERENCES dbo.models (model_id),
    model_version INT            NOT NULL,
    window_id     NVARCHAR(200)  NOT NULL,
    window_start  DATETIMEOFFSET(7) NOT NULL,
    window_end    DATETIMEOFFSET(7) NOT NULL,
    row_count     INT            NOT NULL,
    dataset_drift BIT            NOT NULL,
    share_drifted FLOAT          NOT NULL,
    severity      NVARCHAR(50)   NOT NULL,
    report        NVARCHAR(MAX)  NULL,
    created_at    DATETIMEOFFSET(7) NOT NULL
);
CREATE INDEX ix_drift_reports_model ON dbo.drift_reports (model_id, created_at);

CREATE TABLE dbo.adaptation_runs (
    run_id               UNIQUEIDENTIFIER NOT NULL CONSTRAINT pk_adaptation_runs PRIMARY KEY,
    model_id             NVARCHAR(200)  NOT NULL CONSTRAINT fk_adaptation_runs_models REFERENCES dbo.models (model_id),
    base_version         INT            NOT NULL,
    state                NVARCHAR(32)   NOT NULL CONSTRAINT ck_adaptation_runs_state CHECK (state IN (N'Detected', N'Scoring', N'Tuning', N'Evaluating', N'AwaitingApproval', N'Deploying', N'Deployed', N'Rejected', N'Failed')),
    drift_report_id      UNIQUEIDENTIFIER NULL,
    candidate_version    INT            NULL,
    strategy             NVARCHAR(100)  NULL,
    failure_stage        NVARCHAR(100)  NULL,
    failure_reason       NVARCHAR(4000) NULL,
    metrics              NVARCHAR(MAX)  NULL,
    detected_at          DATETIMEOFFSET(7) NOT NULL,
    scoring_at           DATETIMEOFFSET(7) NULL,
    tuning_at            DATETIMEOFFSET(7) NULL,
    evaluating_at        DATETIMEOFFSET(7) NULL,
    awaiting_approval_at DATETIMEOFFSET(7) NULL,
    deploying_at         DATETIMEOFFSET(7) NULL,
    finished_at          DATETIMEOFFSET(7) NULL,
    created_at           DATETIMEOFFSET(7) NOT NULL,
    updated_at           DATETIMEOFFSET(7) NOT NULL
);
-- One active (non-terminal) run per model, enforced by the database.
CREATE UNIQUE INDEX ux_adaptation_runs_active ON dbo.adaptation_runs (model_id)
    WHERE state <> N'Deployed' AND state <> N'Rejected' AND state <> N'Failed';
CREATE INDEX ix_adaptation_runs_model ON dbo.adaptation_runs (model_id, created_at);

CREATE TABLE dbo.adaptation_run_history (
    id            BIGINT IDENTITY(1, 1) NOT NULL CONSTRAINT pk_adaptation_run_history PRIMARY KEY,
    run_id        UNIQUEIDENTIFIER NOT NULL CONSTRAINT fk_adaptation_run_history_runs REFERENCES dbo.adaptation_runs (run_id),
    from_state    NVARCHAR(32)   NULL,
    to_state      NVARCHAR(32)   NOT NULL,
    changed_at    DATETIMEOFFSET(7) NOT NULL,
    detail        NVARCHAR(4000) NULL
);
CREATE INDEX ix_adaptation_run_history_run ON dbo.adaptation_run_history (run_id, id);

CREATE TABLE dbo.sensitivity_masks (
    run_id            UNIQUEIDENTIFIER NOT NULL CONSTRAINT pk_sensitivity_masks PRIMARY KEY
                      CONSTRAINT fk_sensitivity_masks_runs REFERENCES dbo.adaptation_runs (run_id),
    mask_uri          NVARCHAR(1000) NOT NULL,
    sha256            CHAR(64)       NOT NULL,
    selected_fraction FLOAT          NOT NULL,
    coverage          NVARCHAR(MAX)  NULL,
    adaptation_set_id NVARCHAR(200)  NULL,
    created_at        DATETIMEOFFSET(7) NOT NULL
);

CREATE TABLE dbo.evaluations (
    run_id              UNIQUEIDENTIFIER NOT NULL CONSTRAINT pk_evaluations PRIMARY KEY
                        CONSTRAINT fk_evaluations_runs REFERENCES dbo.adaptation_runs (run_id),
    candidate_version   INT            NOT NULL,
    production_version  INT            NOT NULL,
    acc_original_before FLOAT          NOT NULL,
    acc_original_after  FLOAT          NOT NULL,
    acc_shifted_before  FLOAT          NOT NULL,
    acc_shifted_after   FLOAT          NOT NULL,
    forgetting          FLOAT          NOT NULL,
    latency_ms          FLOAT          NOT NULL,
    decision            NVARCHAR(50)   NOT NULL,
    reasons             NVARCHAR(MAX)  NULL,
    created_at          DATETIMEOFFSET(7) NOT NULL
);

CREATE TABLE dbo.approvals (
    id            BIGINT IDENTITY(1, 1) NOT NULL CONSTRAINT pk_approvals PRIMARY KEY,
    run_id        UNIQUEIDENTIFIER NOT NULL CONSTRAINT fk_approvals_runs REFERENCES dbo.adaptation_runs (run_id),
    decision      NVARCHAR(16)   NOT NULL CONSTRAINT ck_approvals_decision CHECK (decision IN (N'Approve', N'Reject', N'Expired', N'Auto')),
    decided_by    NVARCHAR(200)  NOT NULL,
    mode          NVARCHAR(16)   NOT NULL CONSTRAINT ck_approvals_mode CHECK (mode IN (N'Auto', N'Manual')),
    reason        NVARCHAR(4000) NULL,
    decided_at    DATETIMEOFFSET(7) NOT NULL
);
CREATE INDEX ix_approvals_run ON dbo.approvals (run_id, id);

CREATE TABLE dbo.deployments (
    id               BIGINT IDENTITY(1, 1) NOT NULL CONSTRAINT pk_deployments PRIMARY KEY,
    model_id         NVARCHAR(200)  NOT NULL,
    version          INT            NOT NULL,
    previous_version INT            NULL,
    kind             NVARCHAR(16)   NOT NULL CONSTRAINT ck_deployments_kind CHECK (kind IN (N'Deploy', N'Rollback')),
    deployed_by      NVARCHAR(200)  NOT NULL,
    reason           NVARCHAR(4000) NULL,
    run_id           UNIQUEIDENTIFIER NULL,
    deployed_at      DATETIMEOFFSET(7) NOT NULL,
    CONSTRAINT fk_deployments_versions FOREIGN KEY (model_id, version) REFERENCES dbo.model_versions (model_id, version)
);
CREATE INDEX ix_deployments_model ON dbo.deployments (model_id, id);

CREATE TABLE dbo.observation_batches (
    model_id        NVARCHAR(200)  NOT NULL CONSTRAINT fk_observation_batches_models REFERENCES dbo.models (model_id),
    batch_id        NVARCHAR(200)  NOT NULL,
    model_version   INT            NOT NULL,
    row_count       INT            NOT NULL,
    features_uri    NVARCHAR(1000) NOT NULL,
    features_sha256 CHAR(64)       NOT NULL,
    predictions     VARBINARY(MAX) NOT NULL,
    labels          VARBINARY(MAX) NULL,
    labelled_count  INT            NOT NULL CONSTRAINT df_observation_batches_labelled DEFAULT (0),
    received_at     DATETIMEOFFSET(7) NOT NULL,
    labelled_at     DATETIMEOFFSET(7) NULL,
    CONSTRAINT pk_observation_batches PRIMARY KEY (model_id, batch_id)
);
CREATE INDEX ix_observation_batches_received ON dbo.observation_batches (model_id, received_at);

CREATE TABLE dbo.adaptation_pauses (
    model_id      NVARCHAR(200)  NOT NULL CONSTRAINT pk_adaptation_pauses PRIMARY KEY
                  CONSTRAINT fk_adaptation_pauses_models REFERENCES dbo.models (model_id),
    paused        BIT            NOT NULL,
    reason        NVARCHAR(4000) NULL,
    set_by        NVARCHAR(200)  NOT NULL,
    set_at        DATETIMEOFFSET(7) NOT NULL
);
