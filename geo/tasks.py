"""Celery tasks of the geo package: when the calendar crosses into another boundary set's validity (1 July 2025 for
Cà Mau), devices and gateways are re-assigned to the set now in force. Runs every few minutes from beat and does
nothing (one count query) while every located device is already assigned in the set in force."""

from __future__ import annotations

import logging
from typing import Any

from geo import service
from ops_center.celery_app import app
from ops_center.db import connect
from ops_center.settings import get_settings

log = logging.getLogger("geo.tasks")


@app.task(name="geo.reassign_if_due")
def reassign_if_due() -> dict[str, Any]:
    with connect(get_settings().database_url) as conn, conn.transaction():
        set_name, changed = service.reassign_if_due(conn)
    if changed:
        log.info("geo: %d devices/gateways re-assigned to %s", changed, set_name)
    return {"set": set_name, "changed": changed}
