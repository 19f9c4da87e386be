-- 0080_tournament: a run trains several candidates; the run owner records the policy's choice, every
-- candidate, how the gate measured it and why it won or lost.
CREATE TABLE run_tournaments (
    run_id         TEXT    NOT NULL PRIMARY KEY REFERENCES adaptation_runs (run_id),
    model_id       TEXT    NOT NULL,
    severity       TEXT    NULL,
    drift_score    REAL    NULL,
    shift_kind     TEXT    NULL,
    moved_features TEXT    NULL,
    label_rows     INTEGER NULL,
    strategies     TEXT    NULL,
    policy_reason  TEXT    NULL,
    winner         TEXT    NULL,
    winner_reason  TEXT    NULL,
    created_at     TEXT    NOT NULL
);
CREATE INDEX ix_run_tournaments_model ON run_tournaments (model_id, created_at);

CREATE TABLE run_candidates (
    run_id            TEXT    NOT NULL REFERENCES adaptation_runs (run_id),
    strategy          TEXT    NOT NULL,
    state             TEXT    NOT NULL CHECK (state IN ('Training', 'Trained', 'Evaluated', 'Failed')),
    candidate_version INTEGER NULL,
    train_seconds     REAL    NULL,
    decision          TEXT    NULL,
    gain              REAL    NULL,
    gain_lower        REAL    NULL,
    gain_upper        REAL    NULL,
    forgetting        REAL    NULL,
    forgetting_lower  REAL    NULL,
    forgetting_upper  REAL    NULL,
    latency_increase  REAL    NULL,
    score             REAL    NULL,
    outcome           TEXT    NULL,
    reason            TEXT    NULL,
    updated_at        TEXT    NOT NULL,
    PRIMARY KEY (run_id, strategy)
);
