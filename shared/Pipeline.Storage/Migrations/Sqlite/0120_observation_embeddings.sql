-- 0120_observation_embeddings: the embeddings blob Inference wrote beside a batch's features (from the forward pass
-- that made its predictions), so DriftDetection rebuilds an open window without running the model. NULL for a
-- batch published without embeddings.
ALTER TABLE observation_batches ADD COLUMN embeddings_uri TEXT NULL;
ALTER TABLE observation_batches ADD COLUMN embeddings_sha256 TEXT NULL;
