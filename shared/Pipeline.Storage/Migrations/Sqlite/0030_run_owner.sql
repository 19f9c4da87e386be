-- 0030_run_owner: the run owner's transactional outbox and its stage timers, and at most one
-- deployment per run.

-- Messages a run transition causes, written in the transition's transaction and relayed to the
-- broker afterwards (at least once; receivers are idempotent).
CREATE TABLE run_outbox (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id        TEXT    NULL,
    destination   TEXT    NULL,
    message_type  TEXT    NOT NULL,
    body          TEXT    NOT NULL,
    created_at    TEXT    NOT NULL
);

-- One timer per active run: when the current stage is due, and the work to re-send if it is not done.
CREATE TABLE run_timers (
    run_id        TEXT    NOT NULL PRIMARY KEY REFERENCES adaptation_runs (run_id),
    state         TEXT    NOT NULL,
    attempt       INTEGER NOT NULL,
    due_at        TEXT    NOT NULL,
    work_type     TEXT    NULL,
    work_body     TEXT    NULL
);
CREATE INDEX ix_run_timers_due ON run_timers (due_at);

CREATE UNIQUE INDEX ux_deployments_run ON deployments (run_id)
    WHERE run_id IS NOT NULL AND kind = 'Deploy';
