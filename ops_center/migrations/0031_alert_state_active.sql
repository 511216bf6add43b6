-- Stream evaluation reads only the threshold states that are not "ok" (pending or firing): a steady signal
-- costs an index probe, not a row per (rule, device) per batch.
CREATE INDEX alert_rule_state_active_idx ON alert_rule_state (rule_id, subject) WHERE status <> 'ok';
