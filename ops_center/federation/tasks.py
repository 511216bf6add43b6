"""Celery tasks of the federation (beat entries from ``config.beat_entries``, merged in ``app/celery.py``):

- ``federation.tick`` (every ``tick_interval_s``): switch the change trigger on or off by mode; on a province,
  turn change marks into snapshots and enqueue due deliveries;
- ``federation.publish`` (every ``publish_interval_s``): rebuild every kind (unchanged content makes no version),
  enqueue, send the heartbeat;
- ``federation.deliver(outbox_id)``: one attempt, rescheduled with backoff on a recoverable error.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from ops_center.celery_app import app
from ops_center.db import connect
from ops_center.federation import deliver as delivery
from ops_center.federation import outbox
from ops_center.federation.config import FederationConfig, get_config
from ops_center.settings import get_settings

log = logging.getLogger("ops_center.federation.tasks")


def _enqueue_due(database_url: str, cfg: FederationConfig) -> int:
    with connect(database_url) as conn, conn.transaction():
        ids = outbox.due(conn, cfg.delivery_lease_s)
    for outbox_id in ids:
        deliver.delay(outbox_id)
    return len(ids)


def run_round(database_url: str, cfg: FederationConfig, *, scheduled: bool, now: datetime | None = None
              ) -> dict[str, Any]:
    """Build (changed kinds, or all on the schedule) and enqueue; the body of both beat tasks."""
    is_province = cfg.mode == "province"
    with connect(database_url) as conn:
        with conn.transaction():
            outbox.set_publishing(conn, is_province)
        if not is_province:
            return {"mode": cfg.mode}
        assert cfg.province_code is not None
        report = outbox.publish(conn, cfg.province_code, now or datetime.now(UTC),
                                history_months=cfg.history_months, tz=get_settings().timezone,
                                changed_only=not scheduled)
        if scheduled:
            outbox.prune(conn)
        conn.commit()
        pending = outbox.pending_count(conn)
    result: dict[str, Any] = {"mode": cfg.mode, **report.as_dict(), "queued": _enqueue_due(database_url, cfg)}
    if scheduled:
        result["heartbeat"] = delivery.heartbeat(cfg, pending).ok
    return result


@app.task(name="federation.tick")
def tick() -> dict[str, Any]:
    return run_round(get_settings().database_url, get_config(), scheduled=False)


@app.task(name="federation.publish")
def publish() -> dict[str, Any]:
    return run_round(get_settings().database_url, get_config(), scheduled=True)


@app.task(name="federation.deliver", acks_late=True)
def deliver(outbox_id: int) -> dict[str, Any]:
    out = delivery.deliver(get_settings().database_url, int(outbox_id), get_config())
    if out.outcome == "retry" and out.retry_in_s is not None:
        deliver.apply_async((outbox_id,), countdown=out.retry_in_s)
    return {"outbox_id": out.outbox_id, "outcome": out.outcome, "attempt": out.attempt, "answer": out.answer,
            "error": out.error}
