-- The rollups and latest values are updated by every batch that brings a reading of their key (one upsert per
-- device, metric and hour, day, and per device and metric). With free room on the page PostgreSQL updates such
-- a row in place (a HOT update: no new index entries), which measured about 20% cheaper per upsert here
-- (docs/ingest-performance.md). Applies to pages written from now on.
ALTER TABLE readings_hourly SET (fillfactor = 50);
ALTER TABLE readings_daily SET (fillfactor = 50);
ALTER TABLE readings_latest SET (fillfactor = 50);
