-- Public-service dossiers (hồ sơ): the procedures catalogue, one row per dossier built from its events, and the
-- daily rollup the KPIs read (kept current in the same transaction as every event batch: ops_center.dossiers.rollup).

CREATE TABLE procedures (
    code text PRIMARY KEY CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 1000),
    processing_days integer NOT NULL CHECK (processing_days BETWEEN 0 AND 365),  -- legal time, business days
    online_level smallint NOT NULL DEFAULT 2 CHECK (online_level BETWEEN 1 AND 4),  -- highest level offered
    offered_by_post boolean NOT NULL DEFAULT false,  -- receivable/returnable through the public postal service
    agency text NOT NULL DEFAULT '' CHECK (length(agency) <= 500),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- One row per dossier; NULL for what no event has told yet (events may come in any order).
CREATE TABLE dossiers (
    id text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,99}$'),
    procedure_code text REFERENCES procedures (code),
    unit_code text REFERENCES units (code),
    ward_set text NOT NULL DEFAULT '',
    ward_code text NOT NULL DEFAULT '',
    channel text CHECK (channel IN ('online_l3', 'online_l4', 'counter', 'postal')),
    received_at timestamptz,
    processing_days integer,
    due_date date,  -- local date; on time = resolved on or before it (business days, ops_center.dossiers.calendar)
    offered_by_post boolean,
    resolved_at timestamptz,
    returned_at timestamptz,
    return_channel text CHECK (return_channel IN ('postal', 'counter')),
    source text NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dossiers_open_due_idx ON dossiers (due_date) WHERE resolved_at IS NULL AND received_at IS NOT NULL;
CREATE INDEX dossiers_unit_received_idx ON dossiers (unit_code, received_at);

CREATE TABLE dossier_daily (
    day date NOT NULL,
    unit_code text NOT NULL,
    ward_set text NOT NULL,
    ward_code text NOT NULL,
    received_online_l3 integer NOT NULL DEFAULT 0,
    received_online_l4 integer NOT NULL DEFAULT 0,
    received_counter integer NOT NULL DEFAULT 0,
    received_postal integer NOT NULL DEFAULT 0,
    received_post_offered integer NOT NULL DEFAULT 0,
    resolved integer NOT NULL DEFAULT 0,
    resolved_on_time integer NOT NULL DEFAULT 0,
    returned integer NOT NULL DEFAULT 0,
    returned_postal integer NOT NULL DEFAULT 0,
    returned_post_offered integer NOT NULL DEFAULT 0,
    overdue_in integer NOT NULL DEFAULT 0,
    overdue_out integer NOT NULL DEFAULT 0,
    PRIMARY KEY (day, unit_code, ward_set, ward_code)
);
-- The open-overdue baseline (running sum before a period) reads only the days that have overdue movements.
CREATE INDEX dossier_daily_overdue_idx ON dossier_daily (day)
    INCLUDE (unit_code, ward_set, ward_code, overdue_in, overdue_out)
    WHERE overdue_in <> 0 OR overdue_out <> 0;
