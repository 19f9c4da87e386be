-- 0050_inference_batches: who made each prediction batch (Inference owns this table): /feedback is
-- accepted only from that client and only for a batch recorded here, and the per-client storage
-- quota sums these rows over a rolling window.
CREATE TABLE inference_batches (
    batch_id      TEXT    NOT NULL PRIMARY KEY,
    model_id      TEXT    NOT NULL,
    client_id     TEXT    NOT NULL,
    row_count     INTEGER NOT NULL,
    size_bytes    INTEGER NOT NULL,
    created_at    TEXT    NOT NULL
);
CREATE INDEX ix_inference_batches_client ON inference_batches (client_id, created_at);
