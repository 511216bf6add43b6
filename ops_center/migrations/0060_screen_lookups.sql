-- Lookups of the drill-down screens (device detail, ward detail): indexes only, no new tables.
-- A device's status history is its `device_status` events (the events table is the log).
CREATE INDEX events_device_status_idx ON events (subject, id DESC) WHERE topic = 'device_status';
-- A device's alerts (the stream and the scheduled rules label device alerts with `device`).
CREATE INDEX alerts_device_idx ON alerts ((labels ->> 'device'), id DESC) WHERE labels ? 'device';
-- A device's incidents: the reports a device event filed (actor `device:{id}`).
CREATE INDEX incident_reports_device_idx ON incident_reports (actor, incident_id) WHERE source = 'device_event';
-- A ward's incidents in a given boundary set, newest first.
CREATE INDEX incidents_ward_set_idx ON incidents (ward_set, ward_code, id DESC);
