-- 0090_drift_windows: what DriftDetection needs to lose nothing on a restart or a replica takeover.
-- observation_batches: the confidences and the acceptance time of each batch (to rebuild an open
-- window from stored batches) and drift_rows_done, the leading rows of the batch already counted in a
-- closed drift window or rejected (NULL: a batch DriftDetection does not track, e.g. seeded rows).
-- drift_window_state: the per-model window sequence (window ids stay unique across restarts and
-- replicas; a replica whose monitor is behind it rebuilds) and the hysteresis streak.
-- drift_window_segments: which rows of which batch were new in which window.
ALTER TABLE dbo.observation_batches ADD
    confidences     VARBINARY(MAX) NULL,
    accepted_at     DATETIMEOFFSET(7) NULL,
    drift_rows_done INT            NULL;
GO

CREATE INDEX ix_observation_batches_drift_pending ON dbo.observation_batches (model_id, model_version, drift_rows_done);

CREATE TABLE dbo.drift_window_state (
    model_id    NVARCHAR(200)  NOT NULL CONSTRAINT pk_drift_window_state PRIMARY KEY
                               CONSTRAINT fk_drift_window_state_models REFERENCES dbo.models (model_id),
    last_window BIGINT         NOT NULL,
    consecutive INT            NOT NULL CONSTRAINT df_drift_window_state_consecutive DEFAULT (0),
    updated_at  DATETIMEOFFSET(7) NOT NULL
);

CREATE TABLE dbo.drift_window_segments (
    model_id   NVARCHAR(200) NOT NULL CONSTRAINT fk_drift_window_segments_models REFERENCES dbo.models (model_id),
    window_seq BIGINT        NOT NULL,
    window_id  NVARCHAR(200) NOT NULL,
    batch_id   NVARCHAR(200) NOT NULL,
    row_count  INT           NOT NULL CONSTRAINT ck_drift_window_segments_rows CHECK (row_count > 0),
    CONSTRAINT pk_drift_window_segments PRIMARY KEY (model_id, window_seq, batch_id)
);
CREATE INDEX ix_drift_window_segments_batch ON dbo.drift_window_segments (model_id, batch_id);
