"""Our Mosquitto broker's configuration, password file and ACL file, managed by the project.

The ``mqtt_accounts`` table is the source of truth for device and gateway accounts; the service accounts come from
settings. ``sync`` renders both files atomically and asks the broker to reload them (SIGHUP).
"""
