"""Celery tasks of the dossier domain (beat entry ``dossiers-recompute-due`` in ``app/celery.py``).

``dossiers.recompute_due`` re-reads the business calendar (the file may have been edited: an official decision on
next year's Tết published, a compensatory day announced) and moves the due dates of open dossiers that changed,
keeping the KPI rollups consistent. When nothing changed it only reads the open dossiers."""

from __future__ import annotations

import logging

from ops_center.celery_app import app
from ops_center.db import connect
from ops_center.dossiers.calendar import calendar_for
from ops_center.dossiers.service import recompute_due_dates
from ops_center.settings import get_settings

log = logging.getLogger("ops_center.dossiers.tasks")


@app.task(name="dossiers.recompute_due")
def recompute_due() -> int:
    settings = get_settings()
    with connect(settings.database_url) as conn:
        moved = recompute_due_dates(conn, calendar_for(settings))
        conn.commit()
    if moved:
        log.info("dossiers: %d due dates moved after a calendar change", moved)
    return moved
