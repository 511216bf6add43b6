"""Prometheus metrics of the ingest process (served at ``/metrics`` on ``ingest_metrics_port``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry()

RECEIVED = Counter("ingest_messages_received", "MQTT messages received", registry=REGISTRY)
STORED = Counter("ingest_readings_stored", "readings newly stored", registry=REGISTRY)
DUPLICATES = Counter("ingest_readings_duplicate", "readings already stored (redeliveries)", registry=REGISTRY)
REJECTED = Counter("ingest_rejected", "rejected messages or parts of packs", ["reason"], registry=REGISTRY)
ACKED = Counter(
    "ingest_messages_acked", "messages acknowledged to the broker after commit", registry=REGISTRY
)
DB_ERRORS = Counter("ingest_db_errors", "failed batch commits (retried)", registry=REGISTRY)
WRITE_ERRORS = Counter("ingest_write_errors", "batches that failed for another reason (retried)", registry=REGISTRY)
BATCH_SIZE = Histogram(
    "ingest_batch_messages",
    "messages per committed batch",
    registry=REGISTRY,
    buckets=(1, 10, 50, 100, 500, 1000, 2000, 5000, 10000, 20000),
)
BATCH_SECONDS = Histogram(
    "ingest_batch_seconds",
    "decode + write + commit time of a batch",
    registry=REGISTRY,
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
TAKEN_TO_COMMIT = Histogram(
    "ingest_taken_to_commit_seconds",
    "from a batch taken from the buffer (full, or its oldest message ingest_flush_ms old) to its commit: decoding, "
    "waiting for the writer, writing",
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5),
)
QUEUE_DEPTH = Gauge("ingest_queue_depth", "messages received and not yet committed", registry=REGISTRY)
CONNECTED = Gauge("ingest_broker_connected", "1 while connected to the broker", registry=REGISTRY)
BATCHES = Counter("ingest_batches", "batches taken from the buffer and committed", registry=REGISTRY)
WRITE_ATTEMPTS = Counter(
    "ingest_write_attempts", "write transactions tried (a batch the database refuses is split and retried in parts)",
    registry=REGISTRY)
BISECT_SPLITS = Counter("ingest_bisect_splits", "splits of a batch (or part) the database refused", registry=REGISTRY)
BISECT_DEPTH = Gauge("ingest_bisect_depth_max", "deepest level of splitting any batch needed", registry=REGISTRY)
ISOLATED = Counter(
    "ingest_isolated_messages", "messages the database refused, isolated by splitting and dead-lettered",
    registry=REGISTRY)
RETRIES = Counter(
    "ingest_batch_retries", "connection-class or transient failures: the rest of the batch retried as it was",
    registry=REGISTRY)
DEAD_LETTERS = Counter("ingest_dead_letters", "dead letters stored (one per rejected message)", registry=REGISTRY)
DEAD_LETTERS_DROPPED = Counter(
    "ingest_dead_letters_dropped", "dead letters over the per-device rate cap: counted, not stored", registry=REGISTRY)
REGISTRY_LOOKUPS = Counter(
    "ingest_registry_lookups", "direct registry look-ups of ids a message named and the registry did not know",
    ["outcome"], registry=REGISTRY)
