-- 0100_outbox_hop_stamp: the hop stamp of the consume that wrote an outbox row (which message, sent when, handled
-- from when), so the relayed message tells a listener (bench pipeline) how long each hop of a run took.
ALTER TABLE run_outbox ADD COLUMN hop_stamp TEXT NULL;
