-- 0115_inference_batch_labels: when a batch's labels were accepted by /feedback; a second feedback for the same
-- batch is refused (409), so one batch's labels cannot be replaced after drift monitoring used them.
ALTER TABLE dbo.inference_batches ADD labeled_at DATETIMEOFFSET NULL;
