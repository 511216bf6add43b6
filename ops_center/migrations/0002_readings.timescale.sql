-- ops:no-transaction
-- Readings, timescale flavour: a hypertable with daily chunks, hourly and daily rollups as continuous aggregates
-- with real-time aggregation (so they are always current), compression and retention policies.
CREATE EXTENSION IF NOT EXISTS timescaledb;
-- ops:statement
CREATE TABLE readings (
    time timestamptz NOT NULL,
    device_id text NOT NULL,
    metric text NOT NULL,
    value double precision NOT NULL,
    PRIMARY KEY (device_id, metric, time)
);
-- ops:statement
SELECT create_hypertable('readings', 'time', chunk_time_interval => interval '1 day');
-- ops:statement
CREATE MATERIALIZED VIEW readings_hourly WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT time_bucket('1 hour', time, origin => '2000-01-03 00:00:00+07'::timestamptz) AS bucket, device_id, metric,
       count(*) AS count, min(value) AS min, max(value) AS max, sum(value) AS sum,
       max(time) AS last_time, last(value, time) AS last
FROM readings GROUP BY 1, 2, 3 WITH NO DATA;
-- ops:statement
CREATE MATERIALIZED VIEW readings_daily WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT time_bucket('1 day', time, origin => '2000-01-03 00:00:00+07'::timestamptz) AS bucket, device_id, metric,
       count(*) AS count, min(value) AS min, max(value) AS max, sum(value) AS sum,
       max(time) AS last_time, last(value, time) AS last
FROM readings GROUP BY 1, 2, 3 WITH NO DATA;
-- ops:statement
SELECT add_continuous_aggregate_policy('readings_hourly', start_offset => interval '3 days',
                                       end_offset => interval '1 hour', schedule_interval => interval '15 minutes');
-- ops:statement
SELECT add_continuous_aggregate_policy('readings_daily', start_offset => interval '30 days',
                                       end_offset => interval '1 day', schedule_interval => interval '1 hour');
-- ops:statement
ALTER TABLE readings SET (timescaledb.compress, timescaledb.compress_segmentby = 'device_id, metric',
                          timescaledb.compress_orderby = 'time');
-- ops:statement
SELECT add_compression_policy('readings', compress_after => interval '7 days');
-- ops:statement
SELECT add_retention_policy('readings', drop_after => interval '400 days');
-- ops:statement
CREATE TABLE readings_latest (
    device_id text NOT NULL,
    metric text NOT NULL,
    time timestamptz NOT NULL,
    value double precision NOT NULL,
    PRIMARY KEY (device_id, metric)
);
