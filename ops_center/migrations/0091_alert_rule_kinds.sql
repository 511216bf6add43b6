-- The alert rule kinds grow with the domains (province_silence for the national mode, #17; others add theirs).
-- The list lives in one place, alerts/rules/models.py (KINDS), which validates every rule before it is written;
-- the table keeps only a shape check, so a migration adding a kind never has to know the kinds others added.
ALTER TABLE alert_rules DROP CONSTRAINT IF EXISTS alert_rules_kind_check;
ALTER TABLE alert_rules ADD CONSTRAINT alert_rules_kind_check CHECK (kind ~ '^[a-z][a-z0-9_]{0,39}$');
