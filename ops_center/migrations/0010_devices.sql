-- Owning units, gateways, the device registry, device status and ingest dead letters.
CREATE TABLE units (
    code text PRIMARY KEY,
    name text NOT NULL,
    level text NOT NULL CHECK (level IN ('province', 'department', 'district', 'commune', 'other')),
    parent_code text REFERENCES units (code),
    ward_code text
);

CREATE TABLE gateways (
    id text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
    name text NOT NULL,
    enabled boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE devices (
    id text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
    kind text NOT NULL,
    name text NOT NULL,
    lon double precision CHECK (lon BETWEEN -180 AND 180),
    lat double precision CHECK (lat BETWEEN -90 AND 90),
    ward_set text,
    ward_code text,
    ward_status text CHECK (ward_status IN ('inside', 'approximate', 'outside')),
    unit_code text REFERENCES units (code),
    gateway_id text REFERENCES gateways (id),
    enabled boolean NOT NULL DEFAULT true,
    last_seen timestamptz,
    expected_interval_s integer NOT NULL DEFAULT 300 CHECK (expected_interval_s > 0),
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX devices_kind_idx ON devices (kind);
CREATE INDEX devices_ward_idx ON devices (ward_code);
CREATE INDEX devices_gateway_idx ON devices (gateway_id);

-- Retained status messages (online/offline, last will).
CREATE TABLE device_status (
    device_id text PRIMARY KEY,
    state text NOT NULL,
    at timestamptz NOT NULL
);

-- Every rejected message, or rejected part of a pack: nothing is lost, operators see why.
CREATE TABLE dead_letters (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    topic text NOT NULL,
    payload bytea NOT NULL,
    payload_size integer NOT NULL,
    device_id text,
    reason text NOT NULL,
    detail text NOT NULL,
    field text,
    value text,
    replayed_at timestamptz,
    replay_result text
);
CREATE INDEX dead_letters_received_idx ON dead_letters (received_at DESC);
CREATE INDEX dead_letters_reason_idx ON dead_letters (reason, received_at DESC);
CREATE INDEX dead_letters_device_idx ON dead_letters (device_id, received_at DESC);
