"""Housekeeping tasks run by Celery beat."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from ops_center.celery_app import app
from ops_center.db import connect
from ops_center.devices import dead_letters
from ops_center.readings import ReadingsStore
from ops_center.settings import get_settings


@app.task(name="ops_center.maintenance.ensure_partitions")
def ensure_partitions() -> str:
    """Create today's and tomorrow's readings partitions ahead of ingest (postgres flavour; no-op otherwise)."""
    with connect(get_settings().database_url) as conn:
        store = ReadingsStore.for_connection(conn)
        if store.flavour == "postgres":
            now = time.time()
            store.ensure_partitions(conn, [now, now + 86400])
        conn.commit()
    return store.flavour


@app.task(name="ops_center.maintenance.prune_dead_letters")
def prune_dead_letters() -> int:
    """The dead-letter retention policy: letters (and rate-cap counts) older than ``dead_letter_retention_days``
    are deleted. Returns how many letters went."""
    settings = get_settings()
    with connect(settings.database_url) as conn:
        pruned = dead_letters.prune(conn, datetime.now(UTC) - timedelta(days=settings.dead_letter_retention_days))
        conn.commit()
    return pruned
