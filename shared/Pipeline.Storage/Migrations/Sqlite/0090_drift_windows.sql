-- 0090_drift_windows: what DriftDetection needs to lose nothing on a restart or a replica takeover.
-- observation_batches: the confidences and the acceptance time of each batch (to rebuild an open
-- window from stored batches) and drift_rows_done, the leading rows of the batch already counted in a
-- closed drift window or rejected (NULL: a batch DriftDetection does not track, e.g. seeded rows).
-- drift_window_state: the per-model window sequence (window ids stay unique across restarts and
-- replicas; a replica whose monitor is behind it rebuilds) and the hysteresis streak.
-- drift_window_segments: which rows of which batch were new in which window.
ALTER TABLE observation_batches ADD COLUMN confidences BLOB NULL;
ALTER TABLE observation_batches ADD COLUMN accepted_at TEXT NULL;
ALTER TABLE observation_batches ADD COLUMN drift_rows_done INTEGER NULL;
CREATE INDEX ix_observation_batches_drift_pending ON observation_batches (model_id, model_version, drift_rows_done);

CREATE TABLE drift_window_state (
    model_id    TEXT    NOT NULL PRIMARY KEY REFERENCES models (model_id),
    last_window INTEGER NOT NULL,
    consecutive INTEGER NOT NULL DEFAULT 0,
    updated_at  TEXT    NOT NULL
);

CREATE TABLE drift_window_segments (
    model_id   TEXT    NOT NULL REFERENCES models (model_id),
    window_seq INTEGER NOT NULL,
    window_id  TEXT    NOT NULL,
    batch_id   TEXT    NOT NULL,
    row_count  INTEGER NOT NULL CHECK (row_count > 0),
    PRIMARY KEY (model_id, window_seq, batch_id)
);
CREATE INDEX ix_drift_window_segments_batch ON drift_window_segments (model_id, batch_id);
