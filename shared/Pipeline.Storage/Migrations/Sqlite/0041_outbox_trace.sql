-- 0041_outbox_trace: the W3C trace context of the transition that wrote an outbox row, so the relayed
-- message continues the run's trace instead of starting a new one.
ALTER TABLE run_outbox ADD COLUMN trace_parent TEXT NULL;
