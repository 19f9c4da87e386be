-- 0050_inference_batches: who made each prediction batch (Inference owns this table): /feedback is
-- accepted only from that client and only for a batch recorded here, and the per-client storage
-- quota sums these rows over a rolling window.
CREATE TABLE dbo.inference_batches (
    batch_id      UNIQUEIDENTIFIER NOT NULL CONSTRAINT pk_inference_batches PRIMARY KEY,
    model_id      NVARCHAR(200)  NOT NULL,
    client_id     NVARCHAR(64)   NOT NULL,
    row_count     INT            NOT NULL,
    size_bytes    BIGINT         NOT NULL,
    created_at    DATETIMEOFFSET(7) NOT NULL
);
CREATE INDEX ix_inference_batches_client ON dbo.inference_batches (client_id, created_at);
