-- Federation (issue #17 A): provincial instances publish aggregate snapshots to a national instance.
-- Owned by ops_center/federation (outbox.py: the provincial tables; national/store.py: the national ones).
-- Plain SQL: the same on the postgres and timescale flavours.

-- Provincial side ------------------------------------------------------------------------------------------------

-- One row: whether this instance publishes (set by the federation tasks from settings). While false the change
-- trigger writes nothing, so an instance that does not publish never accumulates marks.
CREATE TABLE federation_state (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    publishing boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO federation_state DEFAULT VALUES;

-- Change marks, written by a trigger on `events` in the transaction of the change itself (alerts, incidents,
-- device status, dossier batches all emit an event there). One row per (transaction, topic): concurrent writers
-- never touch the same row. The snapshot builder deletes the marks it consumed in the transaction that writes
-- the snapshots they caused.
CREATE TABLE federation_changes (
    xact xid8 NOT NULL DEFAULT pg_current_xact_id(),
    topic text NOT NULL,
    at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (xact, topic)
);

CREATE FUNCTION federation_mark_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT publishing FROM federation_state) THEN
        INSERT INTO federation_changes (topic) VALUES (NEW.topic) ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER events_federation_change AFTER INSERT ON events
    FOR EACH ROW WHEN (NEW.topic IN ('alert', 'incident', 'device_status', 'dossier'))
    EXECUTE FUNCTION federation_mark_change();

-- The outbox: one row per snapshot version, written in the transaction that built it (and consumed the marks).
CREATE TABLE federation_outbox (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind text NOT NULL,
    period text NOT NULL,
    version bigint NOT NULL CHECK (version >= 1),
    content_hash text NOT NULL,
    envelope jsonb NOT NULL,
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'sending', 'delivered', 'failed', 'superseded')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    lease_until timestamptz,
    enqueued_at timestamptz,
    last_error text,
    outcome text,
    created_at timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz,
    UNIQUE (kind, period, version)
);
CREATE INDEX federation_outbox_due_idx ON federation_outbox (next_attempt_at) WHERE status IN ('pending', 'sending');

CREATE TABLE federation_deliveries (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    outbox_id bigint NOT NULL REFERENCES federation_outbox (id) ON DELETE CASCADE,
    attempt integer NOT NULL,
    started_at timestamptz NOT NULL,
    finished_at timestamptz NOT NULL DEFAULT now(),
    outcome text NOT NULL CHECK (outcome IN ('delivered', 'retry', 'failed', 'superseded')),
    status_code integer,
    error text,
    worker text
);
CREATE INDEX federation_deliveries_outbox_idx ON federation_deliveries (outbox_id, id);

-- National side --------------------------------------------------------------------------------------------------

-- The provinces that may publish here, each with its own credential (SHA-256 of a 256-bit secret; the prefix
-- finds the row). A province is checked on every request: enabled, credential not revoked.
CREATE TABLE federation_provinces (
    code text PRIMARY KEY CHECK (code ~ '^[0-9]{2}$'),
    name text NOT NULL,
    enabled boolean NOT NULL DEFAULT true,
    token_prefix text UNIQUE,
    token_hash text,
    token_issued_at timestamptz,
    schedule_s integer NOT NULL DEFAULT 900 CHECK (schedule_s BETWEEN 1 AND 604800),
    last_contact_at timestamptz,
    last_snapshot_at timestamptz,
    last_heartbeat_at timestamptz,
    last_sent_at timestamptz,
    clock_skew_s double precision,
    software text,
    outbox_pending integer,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The newest version of each (province, kind, period): what the screen, the ranking and the brief read.
CREATE TABLE federation_snapshots (
    province text NOT NULL REFERENCES federation_provinces (code) ON DELETE CASCADE,
    kind text NOT NULL,
    period text NOT NULL,
    version bigint NOT NULL,
    schema_version text NOT NULL,
    generated_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    content_hash text NOT NULL,
    data jsonb NOT NULL,
    PRIMARY KEY (province, kind, period)
);
CREATE INDEX federation_snapshots_kind_period_idx ON federation_snapshots (kind, period);

-- Every (province, kind, period, version) accepted once: the idempotency record.
CREATE TABLE federation_receipts (
    province text NOT NULL REFERENCES federation_provinces (code) ON DELETE CASCADE,
    kind text NOT NULL,
    period text NOT NULL,
    version bigint NOT NULL,
    content_hash text NOT NULL,
    outcome text NOT NULL CHECK (outcome IN ('stored', 'stale')),
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (province, kind, period, version)
);

-- Refused snapshots from authenticated provinces: one row per request, the body capped, reason naming the field.
CREATE TABLE federation_dead_letters (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    province text,
    claimed_province text,
    status integer NOT NULL,
    reason text NOT NULL,
    detail text NOT NULL,
    field text,
    value text,
    payload bytea NOT NULL,
    payload_size integer NOT NULL
);
CREATE INDEX federation_dead_letters_province_idx ON federation_dead_letters (province, id);
