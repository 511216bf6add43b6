-- The latest values are updated by every batch that brings a reading of their key: with free room on the page
-- PostgreSQL updates a row in place (a HOT update: no new index entries). The rollups are continuous aggregates.
ALTER TABLE readings_latest SET (fillfactor = 50);
