-- Readings, postgres flavour: native range partitions by day (created on demand by the readings store),
-- hourly and daily rollups kept current by the store in the same statement as the insert.
CREATE TABLE readings (
    time timestamptz NOT NULL,
    device_id text NOT NULL,
    metric text NOT NULL,
    value double precision NOT NULL,
    PRIMARY KEY (device_id, metric, time)
) PARTITION BY RANGE (time);
CREATE INDEX readings_time_idx ON readings (time);

CREATE TABLE readings_hourly (
    bucket timestamptz NOT NULL,
    device_id text NOT NULL,
    metric text NOT NULL,
    count bigint NOT NULL,
    min double precision NOT NULL,
    max double precision NOT NULL,
    sum double precision NOT NULL,
    last_time timestamptz NOT NULL,
    last double precision NOT NULL,
    PRIMARY KEY (device_id, metric, bucket)
);
CREATE INDEX readings_hourly_bucket_idx ON readings_hourly (bucket);

CREATE TABLE readings_daily (LIKE readings_hourly INCLUDING ALL);

CREATE TABLE readings_latest (
    device_id text NOT NULL,
    metric text NOT NULL,
    time timestamptz NOT NULL,
    value double precision NOT NULL,
    PRIMARY KEY (device_id, metric)
);
