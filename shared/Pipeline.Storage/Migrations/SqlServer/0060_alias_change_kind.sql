-- 0060_alias_change_kind: why each change of the production alias happened, which is why its
-- from_version left production: Deploy (superseded by a deployment), Rollback (rolled back as bad),
-- Set (set directly: seeding, registration). A rollback without a named version never returns to
-- a version that was rolled back as bad. Earlier rows are classified from the deployments audit.
ALTER TABLE dbo.production_alias_history ADD
    change_kind NVARCHAR(16) NOT NULL CONSTRAINT df_production_alias_history_change_kind DEFAULT N'Set'
        CONSTRAINT ck_production_alias_history_change_kind CHECK (change_kind IN (N'Set', N'Deploy', N'Rollback'));
GO

UPDATE h
SET change_kind = d.kind
FROM dbo.production_alias_history AS h
CROSS APPLY (
    SELECT TOP (1) x.kind FROM dbo.deployments AS x
    WHERE x.model_id = h.model_id AND x.version = h.to_version
      AND (x.previous_version = h.from_version OR (x.previous_version IS NULL AND h.from_version IS NULL))
    ORDER BY x.id DESC) AS d;
