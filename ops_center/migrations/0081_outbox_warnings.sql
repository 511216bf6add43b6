-- The notification outbox (alerts/notify) also carries published warnings to their webhook subscribers:
-- event 'cap', the message in warning_message_id, idempotency key cap-<message>-<channel> (one row per subscriber).
ALTER TABLE notification_outbox ADD COLUMN warning_message_id bigint REFERENCES warning_messages (id) ON DELETE CASCADE;
ALTER TABLE notification_outbox DROP CONSTRAINT notification_outbox_event_check;
ALTER TABLE notification_outbox ADD CONSTRAINT notification_outbox_event_check
    CHECK (event IN ('firing', 'escalated', 'reminder', 'resolved', 'test', 'cap'));
ALTER TABLE notification_outbox ADD CONSTRAINT notification_outbox_cap_message
    CHECK ((event = 'cap') = (warning_message_id IS NOT NULL));
CREATE INDEX notification_outbox_warning_idx ON notification_outbox (warning_message_id)
    WHERE warning_message_id IS NOT NULL;
