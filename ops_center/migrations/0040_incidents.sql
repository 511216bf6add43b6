-- Field incidents: configurable categories (Vietnamese and English labels, default severity, SLA, the device event
-- kinds that open them), incidents with the ward in force at report time, every report (the first and the linked
-- duplicates, each with its own reporter contact) and a timeline (created, status changes, comments, links).

CREATE TABLE incident_categories (
    code text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]{0,39}$'),
    label_vi text NOT NULL CHECK (length(label_vi) BETWEEN 1 AND 200),
    label_en text NOT NULL CHECK (length(label_en) BETWEEN 1 AND 200),
    default_severity text NOT NULL CHECK (default_severity IN ('critical', 'major', 'minor', 'info')),
    sla_hours integer NOT NULL CHECK (sla_hours BETWEEN 1 AND 8760),  -- calendar hours: field incidents run 24/7
    device_kinds text[] NOT NULL DEFAULT '{}',  -- device event kinds (or their first dotted segment) -> category
    description text NOT NULL DEFAULT '',
    sort_order integer NOT NULL DEFAULT 100,
    enabled boolean NOT NULL DEFAULT true,
    updated_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO incident_categories (code, label_vi, label_en, default_severity, sla_hours, device_kinds, sort_order,
                                 description) VALUES
    ('flooding', 'Ngập úng', 'Flooding', 'major', 4, '{flood,flooding,water_level,flood_depth}', 10,
     'Ngập đường, khu dân cư do mưa, triều cường'),
    ('salinity_intrusion', 'Xâm nhập mặn', 'Salinity intrusion', 'major', 24, '{salinity}', 20,
     'Độ mặn vượt ngưỡng trên sông, kênh, cống'),
    ('riverbank_erosion', 'Sạt lở bờ sông, bờ biển', 'Riverbank erosion', 'critical', 12, '{erosion,landslide}', 30,
     'Sạt lở, sụt lún bờ sông, bờ kênh, bờ biển'),
    ('fallen_tree', 'Cây ngã đổ', 'Fallen tree', 'minor', 6, '{tree}', 40,
     'Cây xanh ngã đổ, gãy cành chắn đường'),
    ('traffic_accident', 'Tai nạn giao thông', 'Traffic accident', 'major', 2, '{}', 50,
     'Tai nạn, ùn tắc giao thông'),
    ('power_outage', 'Mất điện', 'Power outage', 'major', 8, '{power,mains}', 60,
     'Mất điện diện rộng, sự cố lưới điện'),
    ('environmental_pollution', 'Ô nhiễm môi trường', 'Environmental pollution', 'minor', 48,
     '{air_quality,water_quality,pollution}', 70, 'Ô nhiễm không khí, nguồn nước, rác thải'),
    ('public_order', 'An ninh trật tự', 'Public order', 'major', 4, '{}', 80,
     'Mất an ninh trật tự nơi công cộng'),
    ('infrastructure_damage', 'Hư hỏng hạ tầng', 'Infrastructure damage', 'minor', 72,
     '{street_light,streetlight,lamp,infrastructure}', 90, 'Hư hỏng đường, cầu, cống, đèn chiếu sáng'),
    ('other', 'Khác', 'Other', 'info', 72, '{}', 1000, 'Phản ánh khác');

CREATE TABLE incidents (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    description text NOT NULL DEFAULT '' CHECK (length(description) <= 5000),
    category text NOT NULL REFERENCES incident_categories (code),
    severity text NOT NULL CHECK (severity IN ('critical', 'major', 'minor', 'info')),
    status text NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'assigned', 'in_progress', 'resolved', 'closed')),
    source text NOT NULL CHECK (source IN ('operator', 'citizen_app', 'device_event')),
    lon double precision CHECK (lon BETWEEN -180 AND 180),
    lat double precision CHECK (lat BETWEEN -90 AND 90),
    address text CHECK (length(address) <= 500),
    media_url text CHECK (length(media_url) <= 2000),
    ward_set text,
    ward_code text,
    ward_name text,
    ward_status text CHECK (ward_status IN ('inside', 'approximate', 'outside')),
    district_code text,
    reporter_name text,   -- contact: shown to admin and operator only
    reporter_phone text,
    reporter_email text,
    assigned_unit text REFERENCES units (code),
    reported_at timestamptz NOT NULL,
    due_at timestamptz NOT NULL,  -- reported_at + the category's SLA; overdue = open and now > due_at
    resolved_at timestamptz,
    closed_at timestamptz,
    report_count integer NOT NULL DEFAULT 1,
    last_reported_at timestamptz NOT NULL,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((lon IS NULL) = (lat IS NULL))
);
CREATE INDEX incidents_link_idx ON incidents (category, reported_at)
    WHERE status IN ('new', 'assigned', 'in_progress') AND lon IS NOT NULL;
CREATE INDEX incidents_status_idx ON incidents (status, id);
CREATE INDEX incidents_open_ward_idx ON incidents (ward_set, ward_code)
    WHERE status IN ('new', 'assigned', 'in_progress');
CREATE INDEX incidents_reported_idx ON incidents (reported_at);

-- Every report: the one that opened the incident and each duplicate linked to it.
CREATE TABLE incident_reports (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id bigint NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    reported_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    source text NOT NULL CHECK (source IN ('operator', 'citizen_app', 'device_event')),
    source_ref text,  -- idempotency key within the source
    actor text NOT NULL,
    title text NOT NULL DEFAULT '',
    description text NOT NULL DEFAULT '',
    lon double precision,
    lat double precision,
    address text,
    reporter_name text,
    reporter_phone text,
    reporter_email text,
    distance_m double precision NOT NULL DEFAULT 0,  -- from the incident's location (0 for the first report)
    UNIQUE (source, source_ref)
);
CREATE INDEX incident_reports_incident_idx ON incident_reports (incident_id, id);

CREATE TABLE incident_timeline (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id bigint NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    at timestamptz NOT NULL DEFAULT now(),
    actor text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('created', 'status', 'comment', 'linked', 'assigned')),
    from_status text,
    to_status text,
    note text NOT NULL DEFAULT '' CHECK (length(note) <= 5000),
    detail jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX incident_timeline_incident_idx ON incident_timeline (incident_id, id);
