"""Our Mosquitto broker: its configuration, its accounts and their rights, managed by the project.

The ``mqtt_accounts`` table is the source of truth for device, gateway and integration accounts; the service
accounts (ingest/API, broker admin) come from settings. Passwords are checked against a ``$7$`` password file,
rights by Mosquitto's dynamic-security plugin; ``files.sync`` brings a running broker up to date (``$CONTROL`` for
the rights, the file and SIGHUP for the passwords).
"""
