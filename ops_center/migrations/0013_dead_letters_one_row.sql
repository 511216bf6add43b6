-- One dead letter per rejected message (issue 11, item 5): every reason of the message is listed in one row.
-- reason/detail/field/value keep the first reason (what a glance needs); reasons lists up to
-- ops_center.devices.dead_letter_writes.REASONS_LISTED of them as {reason, detail, field, value, device_id};
-- reason_count counts all of them; reason_codes holds every distinct code (filters match any of them).
ALTER TABLE dead_letters ADD COLUMN reasons jsonb NOT NULL DEFAULT '[]';
ALTER TABLE dead_letters ADD COLUMN reason_count integer NOT NULL DEFAULT 1;
ALTER TABLE dead_letters ADD COLUMN reason_codes text[] NOT NULL DEFAULT '{}';
UPDATE dead_letters SET
    reasons = jsonb_build_array(jsonb_build_object('reason', reason, 'detail', detail, 'field', field,
                                                   'value', value, 'device_id', device_id)),
    reason_codes = ARRAY[reason];
CREATE INDEX dead_letters_reason_codes_idx ON dead_letters USING gin (reason_codes);

-- A row written the old way (reason/detail/field/value only) still gets its list and codes.
CREATE FUNCTION ops_dead_letter_reasons() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.reason_codes = '{}' THEN
        NEW.reason_codes := ARRAY[NEW.reason];
    END IF;
    IF NEW.reasons = '[]' THEN
        NEW.reasons := jsonb_build_array(jsonb_build_object('reason', NEW.reason, 'detail', NEW.detail,
                                                            'field', NEW.field, 'value', NEW.value,
                                                            'device_id', NEW.device_id));
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER dead_letters_reasons BEFORE INSERT ON dead_letters
    FOR EACH ROW EXECUTE FUNCTION ops_dead_letter_reasons();

-- The per-device rate cap: letters stored and dropped per key (the publishing device, or '' when there is none)
-- and fixed window. Over the cap a letter is counted here, not stored.
CREATE TABLE dead_letter_quota (
    key text NOT NULL,
    window_start timestamptz NOT NULL,
    stored integer NOT NULL DEFAULT 0,
    dropped integer NOT NULL DEFAULT 0,
    last_dropped_at timestamptz,
    last_dropped_reason text,
    PRIMARY KEY (key, window_start)
);
CREATE INDEX dead_letter_quota_window_idx ON dead_letter_quota (window_start);
CREATE INDEX dead_letter_quota_dropped_idx ON dead_letter_quota (window_start) WHERE dropped > 0;
