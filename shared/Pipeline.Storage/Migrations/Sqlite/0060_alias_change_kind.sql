-- 0060_alias_change_kind: why each change of the production alias happened, which is why its
-- from_version left production: Deploy (superseded by a deployment), Rollback (rolled back as bad),
-- Set (set directly: seeding, registration). A rollback without a named version never returns to
-- a version that was rolled back as bad. Earlier rows are classified from the deployments audit.
ALTER TABLE production_alias_history ADD COLUMN change_kind TEXT NOT NULL DEFAULT 'Set'
    CHECK (change_kind IN ('Set', 'Deploy', 'Rollback'));

UPDATE production_alias_history
SET change_kind = (
    SELECT d.kind FROM deployments d
    WHERE d.model_id = production_alias_history.model_id
      AND d.version = production_alias_history.to_version
      AND d.previous_version IS production_alias_history.from_version
    ORDER BY d.id DESC LIMIT 1)
WHERE EXISTS (
    SELECT 1 FROM deployments d
    WHERE d.model_id = production_alias_history.model_id
      AND d.version = production_alias_history.to_version
      AND d.previous_version IS production_alias_history.from_version);
