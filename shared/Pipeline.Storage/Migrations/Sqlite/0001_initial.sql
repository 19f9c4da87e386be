-- 0001_initial: pipeline state (SQLite). GUIDs are TEXT ("D" format), timestamps are TEXT
-- (fixed-width UTC ISO-8601, so text order is time order), booleans are INTEGER 0/1.

CREATE TABLE models (
    model_id      TEXT    NOT NULL PRIMARY KEY,
    display_name  TEXT    NULL,
    created_at    TEXT    NOT NULL
);

CREATE TABLE model_versions (
    model_id      TEXT    NOT NULL REFERENCES models (model_id),
    version       INTEGER NOT NULL,
    artifact_uri  TEXT    NOT NULL,
    sha256        TEXT    NOT NULL,
    architecture  TEXT    NOT NULL,
    input_shape   TEXT    NOT NULL,
    classes       TEXT    NOT NULL,
    params_total  INTEGER NOT NULL,
    created_at    TEXT    NOT NULL,
    created_by    TEXT    NOT NULL,
    metadata      TEXT    NULL,
    PRIMARY KEY (model_id, version)
);

CREATE TABLE production_aliases (
    model_id      TEXT    NOT NULL PRIMARY KEY,
    version       INTEGER NOT NULL,
    set_at        TEXT    NOT NULL,
    set_by        TEXT    NOT NULL,
    reason        TEXT    NULL,
    FOREIGN KEY (model_id, version) REFERENCES model_versions (model_id, version)
);

CREATE TABLE production_alias_history (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    model_id      TEXT    NOT NULL REFERENCES models (model_id),
    from_version  INTEGER NULL,
    to_version    INTEGER NOT NULL,
    changed_at    TEXT    NOT NULL,
    changed_by    TEXT    NOT NULL,
    reason        TEXT    NULL
);
CREATE INDEX ix_production_alias_history_model ON production_alias_history (model_id, id);

CREATE TABLE drift_reference_profiles (
    model_id      TEXT    NOT NULL,
    version       INTEGER NOT NULL,
    profile_uri   TEXT    NOT NULL,
    sha256        TEXT    NOT NULL,
    created_at    TEXT    NOT NULL,
    PRIMARY KEY (model_id, version),
    FOREIGN KEY (model_id, version) REFERENCES model_versions (model_id, version)
);

CREATE TABLE drift_reports (
    report_id     TEXT    NOT NULL PRIMARY KEY,
    model_id      TEXT    NOT NULL REFERENCES models (model_id),
    model_version INTEGER NOT NULL,
    window_id     TEXT    NOT NULL,
    window_start  TEXT    NOT NULL,
    window_end    TEXT    NOT NULL,
    row_count     INTEGER NOT NULL,
    dataset_drift INTEGER NOT NULL CHECK (dataset_drift IN (0, 1)),
    share_drifted REAL    NOT NULL,
    severity      TEXT    NOT NULL,
    report        TEXT    NULL,
    created_at    TEXT    NOT NULL
);
CREATE INDEX ix_drift_reports_model ON drift_reports (model_id, created_at);

CREATE TABLE adaptation_runs (
    run_id               TEXT    NOT NULL PRIMARY KEY,
    model_id             TEXT    NOT NULL REFERENCES models (model_id),
    base_version         INTEGER NOT NULL,
    state                TEXT    NOT NULL CHECK (state IN ('Detected', 'Scoring', 'Tuning', 'Evaluating', 'AwaitingApproval', 'Deploying', 'Deployed', 'Rejected', 'Failed')),
    drift_report_id      TEXT    NULL,
    candidate_version    INTEGER NULL,
    strategy             TEXT    NULL,
    failure_stage        TEXT    NULL,
    failure_reason       TEXT    NULL,
    metrics              TEXT    NULL,
    detected_at          TEXT    NOT NULL,
    scoring_at           TEXT    NULL,
    tuning_at            TEXT    NULL,
    evaluating_at        TEXT    NULL,
    awaiting_approval_at TEXT    NULL,
    deploying_at         TEXT    NULL,
    finished_at          TEXT    NULL,
    created_at           TEXT    NOT NULL,
    updated_at           TEXT    NOT NULL
);
-- One active (non-terminal) run per model, enforced by the database (partial unique index).
CREATE UNIQUE INDEX ux_adaptation_runs_active ON adaptation_runs (model_id)
    WHERE state <> 'Deployed' AND state <> 'Rejected' AND state <> 'Failed';
CREATE INDEX ix_adaptation_runs_model ON adaptation_runs (model_id, created_at);

CREATE TABLE adaptation_run_history (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id        TEXT    NOT NULL REFERENCES adaptation_runs (run_id),
    from_state    TEXT    NULL,
    to_state      TEXT    NOT NULL,
    changed_at    TEXT    NOT NULL,
    detail        TEXT    NULL
);
CREATE INDEX ix_adaptation_run_history_run ON adaptation_run_history (run_id, id);

CREATE TABLE sensitivity_masks (
    run_id            TEXT    NOT NULL PRIMARY KEY REFERENCES adaptation_runs (run_id),
    mask_uri          TEXT    NOT NULL,
    sha256            TEXT    NOT NULL,
    selected_fraction REAL    NOT NULL,
    coverage          TEXT    NULL,
    adaptation_set_id TEXT    NULL,
    created_at        TEXT    NOT NULL
);

CREATE TABLE evaluations (
    run_id              TEXT    NOT NULL PRIMARY KEY REFERENCES adaptation_runs (run_id),
    candidate_version   INTEGER NOT NULL,
    production_version  INTEGER NOT NULL,
    acc_original_before REAL    NOT NULL,
    acc_original_after  REAL    NOT NULL,
    acc_shifted_before  REAL    NOT NULL,
    acc_shifted_after   REAL    NOT NULL,
    forgetting          REAL    NOT NULL,
    latency_ms          REAL    NOT NULL,
    decision            TEXT    NOT NULL,
    reasons             TEXT    NULL,
    created_at          TEXT    NOT NULL
);

CREATE TABLE approvals (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id        TEXT    NOT NULL REFERENCES adaptation_runs (run_id),
    decision      TEXT    NOT NULL CHECK (decision IN ('Approve', 'Reject', 'Expired', 'Auto')),
    decided_by    TEXT    NOT NULL,
    mode          TEXT    NOT NULL CHECK (mode IN ('Auto', 'Manual')),
    reason        TEXT    NULL,
    decided_at    TEXT    NOT NULL
);
CREATE INDEX ix_approvals_run ON approvals (run_id, id);

CREATE TABLE deployments (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    model_id         TEXT    NOT NULL,
    version          INTEGER NOT NULL,
    previous_version INTEGER NULL,
    kind             TEXT    NOT NULL CHECK (kind IN ('Deploy', 'Rollback')),
    deployed_by      TEXT    NOT NULL,
    reason           TEXT    NULL,
    run_id           TEXT    NULL,
    deployed_at      TEXT    NOT NULL,
    FOREIGN KEY (model_id, version) REFERENCES model_versions (model_id, version)
);
CREATE INDEX ix_deployments_model ON deployments (model_id, id);

CREATE TABLE observation_batches (
    model_id        TEXT    NOT NULL REFERENCES models (model_id),
    batch_id        TEXT    NOT NULL,
    model_version   INTEGER NOT NULL,
    row_count       INTEGER NOT NULL,
    features_uri    TEXT    NOT NULL,
    features_sha256 TEXT    NOT NULL,
    predictions     BLOB    NOT NULL,
    labels          BLOB    NULL,
    labelled_count  INTEGER NOT NULL DEFAULT 0,
    received_at     TEXT    NOT NULL,
    labelled_at     TEXT    NULL,
    PRIMARY KEY (model_id, batch_id)
);
CREATE INDEX ix_observation_batches_received ON observation_batches (model_id, received_at);

CREATE TABLE adaptation_pauses (
    model_id      TEXT    NOT NULL PRIMARY KEY REFERENCES models (model_id),
    paused        INTEGER NOT NULL CHECK (paused IN (0, 1)),
    reason        TEXT    NULL,
    set_by        TEXT    NOT NULL,
    set_at        TEXT    NOT NULL
);
