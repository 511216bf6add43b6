"""Housekeeping tasks run by Celery beat."""

from __future__ import annotations

import time

from ops_center.celery_app import app
from ops_center.db import connect
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
