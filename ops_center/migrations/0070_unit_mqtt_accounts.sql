-- A unit's e-government system (one-stop-shop, document or meeting system) is a broker principal of its own:
-- username unit.{code}, writing only ops/v1/egov/{code}/{dossiers,documents,meetings,petitions}
-- (ops_center.devices.credentials.acl).
ALTER TABLE mqtt_accounts DROP CONSTRAINT IF EXISTS mqtt_accounts_kind_check;
ALTER TABLE mqtt_accounts ADD CONSTRAINT mqtt_accounts_kind_check
    CHECK (kind IN ('device', 'gateway', 'service', 'unit'));
