-- The province's e-government readiness (ops_center.readiness): dated unit facts, the document and meeting feeds,
-- each unit's newest record per feed.
CREATE TABLE unit_facts (
    unit_code text NOT NULL REFERENCES units (code),
    fact text NOT NULL CHECK (fact IN ('exists', 'iso_9001', 'meeting_room', 'document_axis', 'national_portal',
                                       'admin_center', 'e_certified_copy')),
    since date NOT NULL,
    value boolean NOT NULL,
    note text NOT NULL DEFAULT '' CHECK (length(note) <= 500),
    source text NOT NULL DEFAULT '',
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (unit_code, fact, since)
);
CREATE INDEX unit_facts_fact_idx ON unit_facts (fact, since);

CREATE TABLE documents (
    id text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,99}$'),
    from_unit text NOT NULL REFERENCES units (code),
    to_unit text NOT NULL REFERENCES units (code),
    sent_at timestamptz NOT NULL,
    received_at timestamptz,
    via_axis boolean,
    source text NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX documents_sent_idx ON documents (sent_at);

CREATE TABLE meeting_sessions (
    id text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,99}$'),
    unit_code text NOT NULL REFERENCES units (code),
    started_at timestamptz NOT NULL,
    ended_at timestamptz,
    participants integer CHECK (participants BETWEEN 0 AND 100000),
    title text CHECK (length(title) <= 500),
    source text NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX meeting_sessions_started_idx ON meeting_sessions (started_at);

CREATE TABLE feed_activity (
    unit_code text NOT NULL,
    feed text NOT NULL,
    last_at timestamptz NOT NULL,
    PRIMARY KEY (unit_code, feed)
);
