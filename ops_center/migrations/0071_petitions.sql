-- Citizens' petitions (phản ánh, kiến nghị) and their rollup (ops_center.petitions.service).
CREATE TABLE petitions (
    id text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,99}$'),
    unit_code text REFERENCES units (code),
    ward_set text NOT NULL DEFAULT '',
    ward_code text NOT NULL DEFAULT '',
    category text CHECK (category IN ('procedure', 'staff', 'other')),
    received_at timestamptz,
    due_date date,  -- local date: received date + 15 business days
    handled_at timestamptz,
    rating text CHECK (rating IN ('satisfied', 'unsatisfied')),
    rated_at timestamptz,
    source text NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX petitions_unit_received_idx ON petitions (unit_code, received_at);
CREATE INDEX petitions_handled_idx ON petitions (handled_at) WHERE handled_at IS NOT NULL;
CREATE INDEX petitions_rated_idx ON petitions (rated_at) WHERE rated_at IS NOT NULL;

CREATE TABLE petition_daily (
    day date NOT NULL,
    unit_code text NOT NULL,
    ward_set text NOT NULL,
    ward_code text NOT NULL,
    received integer NOT NULL DEFAULT 0,
    ended integer NOT NULL DEFAULT 0,
    ended_on_time integer NOT NULL DEFAULT 0,
    open_in integer NOT NULL DEFAULT 0,
    open_out integer NOT NULL DEFAULT 0,
    late_in integer NOT NULL DEFAULT 0,
    late_out integer NOT NULL DEFAULT 0,
    rated integer NOT NULL DEFAULT 0,
    rated_satisfied integer NOT NULL DEFAULT 0,
    PRIMARY KEY (day, unit_code, ward_set, ward_code)
);
CREATE TABLE petition_monthly (LIKE petition_daily INCLUDING DEFAULTS);
ALTER TABLE petition_monthly RENAME COLUMN day TO month;
ALTER TABLE petition_monthly ADD PRIMARY KEY (month, unit_code, ward_set, ward_code);
ALTER TABLE petition_monthly ADD CHECK (extract(day FROM month) = 1);
CREATE TABLE petition_yearly (LIKE petition_daily INCLUDING DEFAULTS);
ALTER TABLE petition_yearly RENAME COLUMN day TO year;
ALTER TABLE petition_yearly ADD PRIMARY KEY (year, unit_code, ward_set, ward_code);
ALTER TABLE petition_yearly ADD CHECK (extract(doy FROM year) = 1);
