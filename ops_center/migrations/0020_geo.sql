-- Versioned boundary sets (wards, districts), their units, and crosswalks between sets.
-- Geometry is WKB in EPSG:4326 in a bytea (no PostGIS needed); the geo package indexes it in memory.

-- Bumped on every import into a set, so processes that cache a set's index see that it changed.
CREATE SEQUENCE boundary_generation_seq;

CREATE TABLE boundary_sets (
    name text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'),
    description text NOT NULL DEFAULT '',
    -- Sets of one family replace each other over time (the province's administrative units): their validity
    -- windows may not overlap (enforced by geo.store under an advisory lock), so one set is in force at a time.
    family text NOT NULL DEFAULT 'admin' CHECK (family ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'),
    valid_from date NOT NULL,
    valid_to date,  -- last day in force (inclusive); NULL: still in force
    source text,
    imported_at timestamptz NOT NULL DEFAULT now(),
    report jsonb NOT NULL DEFAULT '{}'::jsonb,  -- per level: the validation report of the last import
    generation bigint NOT NULL DEFAULT nextval('boundary_generation_seq'),
    CHECK (valid_to IS NULL OR valid_to >= valid_from)
);
CREATE INDEX boundary_sets_family_idx ON boundary_sets (family, valid_from);

CREATE TABLE boundary_units (
    set_name text NOT NULL REFERENCES boundary_sets (name) ON DELETE CASCADE,
    level text NOT NULL CHECK (level IN ('ward', 'district')),
    code text NOT NULL,
    name text NOT NULL,
    unit_type text,
    parent_code text,
    parent_name text,
    area_km2 double precision NOT NULL,
    rep_lon double precision NOT NULL,
    rep_lat double precision NOT NULL,
    geom bytea NOT NULL,
    PRIMARY KEY (set_name, level, code)
);

-- One computed crosswalk between two (set, level) pairs; rows below. `from_generation`/`to_generation` record the
-- imports it was computed from, so a re-import makes it stale.
CREATE TABLE boundary_crosswalks (
    from_set text NOT NULL REFERENCES boundary_sets (name) ON DELETE CASCADE,
    from_level text NOT NULL CHECK (from_level IN ('ward', 'district')),
    to_set text NOT NULL REFERENCES boundary_sets (name) ON DELETE CASCADE,
    to_level text NOT NULL CHECK (to_level IN ('ward', 'district')),
    from_generation bigint NOT NULL,
    to_generation bigint NOT NULL,
    computed_at timestamptz NOT NULL DEFAULT now(),
    stats jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (from_set, from_level, to_set, to_level)
);

CREATE TABLE boundary_crosswalk (
    from_set text NOT NULL,
    from_level text NOT NULL,
    from_code text NOT NULL,
    to_set text NOT NULL,
    to_level text NOT NULL,
    to_code text NOT NULL,
    fraction double precision NOT NULL CHECK (fraction >= 0 AND fraction <= 1.000001),  -- of the covered area
    area_share double precision NOT NULL,  -- of the whole from unit
    area_km2 double precision NOT NULL,
    PRIMARY KEY (from_set, from_level, to_set, to_level, from_code, to_code),
    FOREIGN KEY (from_set, from_level, to_set, to_level)
        REFERENCES boundary_crosswalks (from_set, from_level, to_set, to_level) ON DELETE CASCADE
);

-- Per from unit: the share of its area covered by the other set (the rest is `uncovered`).
CREATE TABLE boundary_crosswalk_coverage (
    from_set text NOT NULL,
    from_level text NOT NULL,
    to_set text NOT NULL,
    to_level text NOT NULL,
    from_code text NOT NULL,
    covered double precision NOT NULL,
    from_area_km2 double precision NOT NULL,
    PRIMARY KEY (from_set, from_level, to_set, to_level, from_code),
    FOREIGN KEY (from_set, from_level, to_set, to_level)
        REFERENCES boundary_crosswalks (from_set, from_level, to_set, to_level) ON DELETE CASCADE
);
