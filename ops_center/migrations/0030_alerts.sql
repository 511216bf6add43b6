-- Alerting: rules, alerts with their timeline, evaluation state of stream rules, silences, inhibition rules,
-- escalation policies, notification channels, the notification outbox and its delivery log.
-- State that time decides is derived from timestamps: an alert fires while ends_at is NULL (or in the future),
-- a silence is active while starts_at <= now < ends_at.

CREATE TABLE notify_channels (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE CHECK (char_length(name) BETWEEN 1 AND 100),
    type text NOT NULL CHECK (type IN ('webhook', 'email')),
    config jsonb NOT NULL DEFAULT '{}'::jsonb,
    enabled boolean NOT NULL DEFAULT true,
    created_by text NOT NULL DEFAULT 'system',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- steps: [{"after_s": 0, "channels": ["ops-webhook"]}, {"after_s": 900, "channels": ["supervisor-email"]}]
-- ("after" counts from the start of the ladder); reminders every repeat_s for the severities listed.
CREATE TABLE escalation_policies (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE CHECK (char_length(name) BETWEEN 1 AND 100),
    description text NOT NULL DEFAULT '',
    steps jsonb NOT NULL,
    repeat_s integer CHECK (repeat_s IS NULL OR repeat_s >= 60),
    repeat_severities text[] NOT NULL DEFAULT '{critical}',
    notify_resolved boolean NOT NULL DEFAULT true,
    created_by text NOT NULL DEFAULT 'system',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE alert_rules (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE CHECK (char_length(name) BETWEEN 1 AND 200),
    kind text NOT NULL CHECK (kind IN ('threshold', 'rate', 'absence', 'geo_count', 'kpi')),
    severity text NOT NULL CHECK (severity IN ('critical', 'major', 'minor', 'info')),
    enabled boolean NOT NULL DEFAULT true,
    spec jsonb NOT NULL,                         -- the whole validated rule document
    escalation_policy_id bigint REFERENCES escalation_policies (id) ON DELETE SET NULL,
    version integer NOT NULL DEFAULT 1,          -- bumped on every change; stream state of an older version resets
    created_by text NOT NULL DEFAULT 'system',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    last_evaluated_at timestamptz,               -- scheduled rules: claimed by one evaluator per cycle
    last_error text
);
CREATE INDEX alert_rules_kind_idx ON alert_rules (kind) WHERE enabled;

CREATE TABLE alerts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    fingerprint text NOT NULL,
    rule_id bigint REFERENCES alert_rules (id) ON DELETE SET NULL,
    rule_name text NOT NULL,
    subject text NOT NULL,
    severity text NOT NULL CHECK (severity IN ('critical', 'major', 'minor', 'info')),
    labels jsonb NOT NULL DEFAULT '{}'::jsonb,
    summary text NOT NULL DEFAULT '',
    value double precision,
    starts_at timestamptz NOT NULL,
    ends_at timestamptz,
    last_fired_at timestamptz NOT NULL,
    reopen_count integer NOT NULL DEFAULT 0,
    resolved_by text,
    resolve_note text,
    acknowledged_by text,
    acknowledged_at timestamptz,
    ack_note text,
    assigned_unit text,
    muted boolean NOT NULL DEFAULT false,
    muted_reason text,
    muted_by text,
    escalation_policy_id bigint REFERENCES escalation_policies (id) ON DELETE SET NULL,
    escalation_level integer NOT NULL DEFAULT -1,
    escalation_started_at timestamptz,
    next_escalation_at timestamptz,
    reminders_sent integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
-- At most one open alert per fingerprint, whatever the number of evaluators (they also take an advisory lock).
CREATE UNIQUE INDEX alerts_open_fingerprint_key ON alerts (fingerprint) WHERE ends_at IS NULL;
CREATE INDEX alerts_fingerprint_idx ON alerts (fingerprint, ends_at DESC);
CREATE INDEX alerts_rule_open_idx ON alerts (rule_id) WHERE ends_at IS NULL;
CREATE INDEX alerts_escalation_due_idx ON alerts (next_escalation_at)
    WHERE ends_at IS NULL AND next_escalation_at IS NOT NULL;
CREATE INDEX alerts_ward_idx ON alerts ((labels ->> 'ward'), id DESC);
CREATE INDEX alerts_severity_idx ON alerts (severity, id DESC);

CREATE TABLE alert_timeline (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id bigint NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    at timestamptz NOT NULL DEFAULT now(),
    kind text NOT NULL CHECK (kind IN ('fired', 'reopened', 'acknowledged', 'assigned', 'escalated', 'reminder',
                                       'notified', 'notify_failed', 'muted', 'unmuted', 'resolved')),
    actor text,
    detail jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX alert_timeline_alert_idx ON alert_timeline (alert_id, id);

-- Evaluation state of stream rules (threshold, rate) per (rule, subject): shared by every ingest process,
-- locked row by row in key order, so the stream may be split across processes and survive restarts.
CREATE TABLE alert_rule_state (
    rule_id bigint NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    subject text NOT NULL,
    rule_version integer NOT NULL DEFAULT 0,
    status text NOT NULL DEFAULT 'ok' CHECK (status IN ('ok', 'pending', 'firing')),
    since timestamptz,
    last_time timestamptz,
    last_value double precision,
    samples jsonb NOT NULL DEFAULT '[]'::jsonb,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (rule_id, subject)
);

-- Alertmanager-style silences: matchers [{"name", "op": "=|!=|=~|!~", "value"}] over alert labels.
CREATE TABLE silences (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    matchers jsonb NOT NULL,
    starts_at timestamptz NOT NULL,
    ends_at timestamptz NOT NULL,
    created_by text NOT NULL,
    comment text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (ends_at > starts_at)
);
CREATE INDEX silences_window_idx ON silences (ends_at, starts_at);

-- Inhibition: while a source (an open alert, or an open incident) matches source_matchers, alerts matching
-- target_matchers with the same values of the `equal` labels are muted.
CREATE TABLE inhibit_rules (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE CHECK (char_length(name) BETWEEN 1 AND 100),
    source text NOT NULL CHECK (source IN ('alert', 'incident')),
    source_matchers jsonb NOT NULL DEFAULT '[]'::jsonb,
    target_matchers jsonb NOT NULL DEFAULT '[]'::jsonb,
    equal text[] NOT NULL DEFAULT '{}',
    enabled boolean NOT NULL DEFAULT true,
    created_by text NOT NULL DEFAULT 'system',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO inhibit_rules (name, source, source_matchers, target_matchers, equal) VALUES
    ('flood-incident-mutes-water-level', 'incident',
     '[{"name": "category", "op": "=~", "value": "flood.*|ngap.*"}]',
     '[{"name": "metric", "op": "=~", "value": "water_level.*|flood_depth.*"}]',
     '{ward}'),
    ('ward-alert-mutes-device-alerts', 'alert',
     '[{"name": "level", "op": "=", "value": "ward"}, {"name": "kind", "op": "!=", "value": ""}]',
     '[{"name": "level", "op": "=", "value": "device"}]',
     '{ward,kind}');

-- The outbox: written in the same transaction as the transition it announces, delivered by Celery workers.
-- The idempotency key travels with every attempt (HTTP header Idempotency-Key, e-mail Message-ID).
CREATE TABLE notification_outbox (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id bigint REFERENCES alerts (id) ON DELETE CASCADE,
    channel_id bigint NOT NULL REFERENCES notify_channels (id) ON DELETE CASCADE,
    event text NOT NULL CHECK (event IN ('firing', 'escalated', 'reminder', 'resolved', 'test')),
    idempotency_key text NOT NULL UNIQUE,
    payload jsonb NOT NULL,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'delivered', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL DEFAULT 8,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    lease_until timestamptz,
    enqueued_at timestamptz,
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz
);
CREATE INDEX notification_outbox_due_idx ON notification_outbox (next_attempt_at)
    WHERE status IN ('pending', 'sending');
CREATE INDEX notification_outbox_alert_idx ON notification_outbox (alert_id);

CREATE TABLE notification_deliveries (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    outbox_id bigint NOT NULL REFERENCES notification_outbox (id) ON DELETE CASCADE,
    attempt integer NOT NULL,
    started_at timestamptz NOT NULL,
    finished_at timestamptz NOT NULL DEFAULT now(),
    outcome text NOT NULL CHECK (outcome IN ('delivered', 'retry', 'failed')),
    status_code integer,
    error text,
    worker text
);
CREATE INDEX notification_deliveries_outbox_idx ON notification_deliveries (outbox_id, id);
