-- Core: users, API keys, audit log, the live-feed event log.
CREATE TABLE users (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username text NOT NULL UNIQUE CHECK (username ~ '^[A-Za-z0-9_.@-]{1,64}$'),
    full_name text NOT NULL DEFAULT '',
    role text NOT NULL CHECK (role IN ('admin', 'operator', 'leader', 'integration')),
    password_hash text NOT NULL,
    disabled boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL,
    prefix text NOT NULL UNIQUE,
    key_hash text NOT NULL,
    role text NOT NULL CHECK (role IN ('admin', 'operator', 'leader', 'integration')),
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at timestamptz
);

CREATE TABLE audit_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    actor text NOT NULL,
    actor_role text,
    action text NOT NULL,
    target text NOT NULL,
    status integer,
    request_id text,
    detail jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_at_idx ON audit_log (at DESC);
CREATE INDEX audit_log_actor_idx ON audit_log (actor, at DESC);

-- Every producer (ingest, alerts, incidents, workers) writes events here in its own transaction;
-- the NOTIFY fires at commit, and a screen that reconnects catches up from its last id.
CREATE TABLE events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    topic text NOT NULL,
    subject text,
    ward_code text,
    payload jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX events_at_idx ON events (at);

CREATE FUNCTION ops_emit(p_topic text, p_subject text, p_ward text, p_payload jsonb) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    new_id bigint;
BEGIN
    INSERT INTO events (topic, subject, ward_code, payload) VALUES (p_topic, p_subject, p_ward, p_payload)
    RETURNING id INTO new_id;
    PERFORM pg_notify('ops_events', new_id::text);
    RETURN new_id;
END;
$$;
