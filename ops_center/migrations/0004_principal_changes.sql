-- Principals are checked against their current account on every request (issue #11 item 3).
--
-- An API key belongs to the user who minted it (or, for a key minted with a key, to that key's owner): it keeps
-- its power only while that owner exists, is enabled and may still mint keys. Deleting the owner leaves the key
-- ownerless (refused), not deleted, so the audit trail keeps it.
ALTER TABLE api_keys ADD COLUMN owner_id bigint REFERENCES users (id) ON DELETE SET NULL;
UPDATE api_keys k SET owner_id = u.id FROM users u WHERE u.username = k.created_by;
CREATE INDEX api_keys_owner_idx ON api_keys (owner_id);

-- Every API process LISTENs on ops_principals: a change of a user's role or state (or its removal) drops that
-- user from the per-process account cache and closes its live sockets at once, however the change was made.
CREATE FUNCTION ops_principal_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('ops_principals', OLD.username);
    ELSE
        PERFORM pg_notify('ops_principals', OLD.username);
        IF NEW.username <> OLD.username THEN
            PERFORM pg_notify('ops_principals', NEW.username);
        END IF;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER users_principal_changed
AFTER UPDATE OF username, role, disabled OR DELETE ON users
FOR EACH ROW EXECUTE FUNCTION ops_principal_changed();
