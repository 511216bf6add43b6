-- Public warnings (CAP 1.2), owned by alerts/warnings: a warning is a thread of CAP messages (Alert, then
-- Updates, then perhaps a Cancel); each message is drafted by one person, approved by another with the right to
-- publish, then published (signed XML stored as sent, immutable). Every step is a row in warning_events.
CREATE TABLE warnings (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hazard text NOT NULL CHECK (hazard ~ '^[a-z][a-z0-9_]{0,39}$'),
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE warning_messages (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    warning_id bigint NOT NULL REFERENCES warnings (id) ON DELETE CASCADE,
    msg_type text NOT NULL CHECK (msg_type IN ('Alert', 'Update', 'Cancel')),
    status text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'approved', 'published', 'discarded')),
    cap_status text NOT NULL DEFAULT 'Actual' CHECK (cap_status IN ('Actual', 'Exercise', 'System', 'Test')),
    version integer NOT NULL DEFAULT 1 CHECK (version >= 1),   -- content version, bumped by every edit
    content jsonb NOT NULL,                                     -- the validated draft document
    authors text[] NOT NULL,                                    -- everyone who drafted or edited this message
    drafted_by text NOT NULL,
    drafted_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    approved_by text,
    approved_at timestamptz,
    approved_version integer,
    published_by text,
    published_at timestamptz,
    identifier text UNIQUE,                                     -- CAP identifier, given at publish
    sent timestamptz,
    expires_at timestamptz,                                     -- the latest info/expires
    xml bytea,                                                  -- the signed CAP document as served
    xml_sha256 text,
    CONSTRAINT warning_published_complete CHECK (
        (status = 'published') = (identifier IS NOT NULL AND xml IS NOT NULL AND sent IS NOT NULL)),
    CONSTRAINT warning_approved_complete CHECK (
        status NOT IN ('approved', 'published') OR (approved_by IS NOT NULL AND approved_version = version)),
    -- the two-person rule: nobody approves a message they drafted or edited
    CONSTRAINT warning_two_person_rule CHECK (approved_by IS NULL OR NOT (approved_by = ANY (authors)))
);
-- at most one message in preparation per warning
CREATE UNIQUE INDEX warning_messages_open_idx ON warning_messages (warning_id)
    WHERE status IN ('draft', 'approved');
CREATE INDEX warning_messages_published_idx ON warning_messages (warning_id, id DESC) WHERE status = 'published';
CREATE INDEX warning_messages_status_idx ON warning_messages (status, id DESC);

-- what a message was drafted from: alerts and incidents (ids of those domains' rows, checked at draft time)
CREATE TABLE warning_sources (
    message_id bigint NOT NULL REFERENCES warning_messages (id) ON DELETE CASCADE,
    kind text NOT NULL CHECK (kind IN ('alert', 'incident')),
    source_id bigint NOT NULL,
    PRIMARY KEY (message_id, kind, source_id)
);
CREATE INDEX warning_sources_source_idx ON warning_sources (kind, source_id);

CREATE TABLE warning_events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    warning_id bigint NOT NULL REFERENCES warnings (id) ON DELETE CASCADE,
    message_id bigint REFERENCES warning_messages (id) ON DELETE CASCADE,
    at timestamptz NOT NULL DEFAULT now(),
    kind text NOT NULL CHECK (kind IN ('drafted', 'edited', 'approved', 'rejected', 'published', 'discarded',
                                       'delivery_queued')),
    actor text NOT NULL,
    actor_role text,
    detail jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX warning_events_warning_idx ON warning_events (warning_id, id);

-- webhook subscribers of published warnings: a notification channel (alerts/notify) and the wards it follows
-- (NULL: every ward); delivered through the notification outbox, one row per (message, subscriber).
CREATE TABLE warning_subscriptions (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel_id bigint NOT NULL UNIQUE REFERENCES notify_channels (id) ON DELETE CASCADE,
    wards text[],
    cap_statuses text[] NOT NULL DEFAULT '{Actual}',
    enabled boolean NOT NULL DEFAULT true,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
