"""Federation (issue #17 A): a provincial instance publishes aggregate snapshots to a national instance.

Provincial side: ``registry`` (the snapshot kinds, each a ``Producer`` registered from its own domain through the
``ops_center.federation.producers`` entry-point group), ``outbox`` (change marks → versioned snapshots in the
outbox, one transaction), ``deliver`` (HTTP to the national instance, retries for recoverable errors only),
``tasks`` (Celery). National side: ``national/`` (province credentials, accepting snapshots, dead letters,
freshness, map values). ``wire`` is the format both sides speak; docs/federation.md describes it.
This package imports no upper package (api, alerts, geo, ingest)."""
