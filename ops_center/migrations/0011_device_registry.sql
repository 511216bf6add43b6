-- Device registry, part 2: the catalogue of device kinds, more gateway columns, one id namespace for devices
-- and gateways (both are MQTT usernames), accent-free search text, and the outcome of dead-letter replays.

-- Kinds are data, not code: add a row to support a new kind of device.
CREATE TABLE device_kinds (
    code text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]{0,31}$'),
    label_vi text NOT NULL,
    label_en text NOT NULL,
    default_interval_s integer NOT NULL DEFAULT 300 CHECK (default_interval_s > 0),
    metrics text[] NOT NULL DEFAULT '{}'
);
INSERT INTO device_kinds (code, label_vi, label_en, default_interval_s, metrics) VALUES
    ('water_level', 'Trạm đo mực nước', 'Water-level gauge', 300, '{water_level_cm}'),
    ('tide_gauge', 'Trạm đo thủy triều', 'Tide gauge', 300, '{water_level_cm}'),
    ('salinity', 'Trạm đo độ mặn', 'Salinity sensor', 600, '{salinity_ppt,water_temperature_c}'),
    ('rain', 'Trạm đo mưa', 'Rain gauge', 600, '{rain_mm}'),
    ('weather', 'Trạm khí tượng', 'Weather station', 600,
        '{temperature_c,humidity_pct,pressure_hpa,wind_speed_ms,wind_dir_deg,rain_mm}'),
    ('air_quality', 'Trạm quan trắc không khí', 'Air-quality station', 600, '{pm2_5,pm10,no2,so2,o3,co_mg_m3,aqi}'),
    ('water_quality', 'Trạm quan trắc chất lượng nước', 'Water-quality station', 900,
        '{ph,dissolved_oxygen_mg_l,conductivity_us_cm,turbidity_ntu,water_temperature_c,salinity_ppt}'),
    ('street_light', 'Đèn chiếu sáng công cộng', 'Street light', 900,
        '{lamp_power_w,lamp_dimming_pct,lamp_energy_kwh}'),
    ('flood_camera', 'Camera giám sát ngập', 'Flood camera', 300, '{flood_depth_cm}'),
    ('flood_sensor', 'Cảm biến ngập', 'Flood-depth sensor', 300, '{flood_depth_cm}'),
    ('other', 'Thiết bị khác', 'Other device', 300, '{}');

ALTER TABLE devices ADD CONSTRAINT devices_kind_fk FOREIGN KEY (kind) REFERENCES device_kinds (code);
ALTER TABLE devices ADD COLUMN name_search text;  -- lower-case, diacritics removed (đ -> d): "ca mau" finds "Cà Mau"
CREATE INDEX devices_unit_idx ON devices (unit_code);

ALTER TABLE gateways
    ADD COLUMN unit_code text REFERENCES units (code),
    ADD COLUMN lon double precision CHECK (lon BETWEEN -180 AND 180),
    ADD COLUMN lat double precision CHECK (lat BETWEEN -90 AND 90),
    ADD COLUMN ward_set text,
    ADD COLUMN ward_code text,
    ADD COLUMN ward_status text CHECK (ward_status IN ('inside', 'approximate', 'outside')),
    ADD COLUMN last_seen timestamptz,
    ADD COLUMN metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    ADD COLUMN name_search text,
    ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();

-- Devices and gateways share one namespace (each id is an MQTT username): a gateway id may not be a device id.
-- (The mqtt_accounts primary key closes the race between two concurrent inserts; this trigger gives the message.)
CREATE FUNCTION ops_principal_id_free() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'devices' AND EXISTS (SELECT 1 FROM gateways WHERE id = NEW.id) THEN
        RAISE EXCEPTION 'id: % is already the id of a gateway', quote_literal(NEW.id)
            USING ERRCODE = 'unique_violation';
    ELSIF TG_TABLE_NAME = 'gateways' AND EXISTS (SELECT 1 FROM devices WHERE id = NEW.id) THEN
        RAISE EXCEPTION 'id: % is already the id of a device', quote_literal(NEW.id)
            USING ERRCODE = 'unique_violation';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER devices_id_free BEFORE INSERT OR UPDATE OF id ON devices
    FOR EACH ROW EXECUTE FUNCTION ops_principal_id_free();
CREATE TRIGGER gateways_id_free BEFORE INSERT OR UPDATE OF id ON gateways
    FOR EACH ROW EXECUTE FUNCTION ops_principal_id_free();

-- Replay outcome: replayed_at/replay_result say when and what; replay_ok says whether the cause was fixed.
ALTER TABLE dead_letters ADD COLUMN replay_ok boolean;
CREATE INDEX dead_letters_topic_idx ON dead_letters (topic text_pattern_ops);
