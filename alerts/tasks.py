"""Celery tasks of the alerting engine (beat entries in ``app/celery.py``):

- ``alerts.evaluate`` — one cycle of scheduled rules (absence, geo-count, KPI);
- ``alerts.tick`` — re-decide muting (silences expire, incidents close), then escalation steps and reminders;
- ``alerts.dispatch`` — enqueue outbox rows that are due (new, retry due, or left by a worker that died);
- ``alerts.deliver(outbox_id)`` — one delivery attempt (claim, send, record), rescheduled with backoff on a
  recoverable error.

Several beats or workers are safe: rules are claimed per cycle, due alerts and outbox rows are taken with
``SKIP LOCKED``/leases, fingerprints are locked."""

from __future__ import annotations

import logging
from typing import Any

from alerts import escalation, remuting, scheduled
from alerts.config import get_config
from alerts.models import utcnow
from alerts.notify import deliver as delivery
from ops_center.celery_app import app
from ops_center.db import connect
from ops_center.settings import get_settings

log = logging.getLogger("alerts.tasks")


def _enqueue_due(limit: int = 500) -> int:
    with connect(get_settings().database_url) as conn:
        with conn.transaction():
            ids = delivery.due(conn, limit)
    for outbox_id in ids:
        deliver.delay(outbox_id)
    return len(ids)


@app.task(name="alerts.evaluate")
def evaluate() -> dict[str, Any]:
    cfg = get_config()
    settings = get_settings()
    with connect(settings.database_url) as conn:
        report = scheduled.evaluate(conn, min_interval_s=cfg.evaluate_interval_s * 0.5, tz=settings.timezone)
        conn.commit()
    if report.fired or report.resolved:
        _enqueue_due()
    return report.as_dict()


@app.task(name="alerts.tick")
def tick() -> dict[str, int]:
    now = utcnow()
    with connect(get_settings().database_url) as conn:
        with conn.transaction():
            changed = remuting.refresh(conn, now)
        with conn.transaction():
            advanced = escalation.run_due(conn, now)
    queued = _enqueue_due() if changed or advanced else 0
    return {"mute_changes": changed, "escalated": advanced, "queued": queued}


@app.task(name="alerts.dispatch")
def dispatch() -> int:
    return _enqueue_due()


@app.task(name="alerts.deliver", acks_late=True)
def deliver(outbox_id: int) -> dict[str, Any]:
    settings = get_settings()
    out = delivery.deliver(settings.database_url, int(outbox_id), external_url=settings.api_base_url)
    if out.outcome == "retry" and out.retry_in_s is not None:
        deliver.apply_async((outbox_id,), countdown=out.retry_in_s)
    return {"outbox_id": out.outbox_id, "outcome": out.outcome, "attempt": out.attempt, "error": out.error}
