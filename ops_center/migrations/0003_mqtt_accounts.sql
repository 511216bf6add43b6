-- Broker accounts of devices and gateways (rendered into Mosquitto's password and ACL files).
CREATE TABLE mqtt_accounts (
    username text PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('device', 'gateway', 'service')),
    password_hash text NOT NULL,
    publish text[] NOT NULL DEFAULT '{}',
    subscribe text[] NOT NULL DEFAULT '{}',
    enabled boolean NOT NULL DEFAULT true,
    updated_at timestamptz NOT NULL DEFAULT now()
);
