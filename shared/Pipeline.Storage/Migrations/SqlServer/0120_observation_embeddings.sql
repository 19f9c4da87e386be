-- 0120_observation_embeddings: the embeddings blob Inference wrote beside a batch's features (from the forward pass
-- that made its predictions), so DriftDetection rebuilds an open window without running the model. NULL for a
-- batch published without embeddings.
ALTER TABLE dbo.observation_batches ADD embeddings_uri NVARCHAR(1000) NULL, embeddings_sha256 CHAR(64) NULL;
