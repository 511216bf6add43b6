"""The device registry: field devices, the gateways some of them sit behind, and the units that own them.

- ``models``: the records (``Device``, ``Gateway``, ``Unit``, ``RegistryEntry``) and the errors, each naming the field
  and the value.
- ``service``: create, read, list, update, enable/disable and delete; ``load_registry``, ``record_seen`` and
  ``record_status`` for ingest.
- ``credentials``: each device and gateway is an MQTT principal with its own secret (stored as a Mosquitto ``$7$``
  hash) and an ACL limited to its own topics.
- ``dead_letters``: reading and marking the rejected messages that ingest keeps.
- ``text``: accent-free folding of Vietnamese names for search.
"""
