"""Delivery of outbox rows: claim (a lease, committed), send (outside any transaction), record (delivery log,
outbox status, alert timeline) — in three steps so that a worker killed mid-send leaves a row another worker
re-sends after the lease, with the same idempotency key, and a receiver that dedupes by key sees it once.

Retries back off exponentially (``retry_base_s × 2^(attempt-1)``, ±20 % jitter, capped) for recoverable errors
only; a permanent error (HTTP 4xx, SMTP 5xx) or the last attempt marks the row ``failed``."""

from __future__ import annotations

import logging
import os
import random
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from psycopg.types.json import Jsonb

from alerts.config import AlertsConfig, get_config
from alerts.models import ALERT_COLUMNS, alert_json, fetch_alert
from alerts.notify.channels import EmailConfig, WebhookConfig, parse_config
from alerts.notify.senders import SendResult, send_cap_webhook, send_email, send_webhook
from ops_center.db import Conn, connect, fetch_one
from ops_center.delivery import backoff as delivery_backoff
from ops_center.events import emit

log = logging.getLogger("alerts.notify")


@dataclass(frozen=True)
class Outcome:
    outbox_id: int
    outcome: str            # delivered | retry | failed | skipped
    attempt: int = 0
    retry_in_s: float | None = None
    error: str | None = None


def backoff(attempt: int, cfg: AlertsConfig, rng: random.Random | None = None) -> float:
    return delivery_backoff(attempt, cfg.retry_base_s, cfg.retry_max_s, rng)


def claim(conn: Conn, outbox_id: int, lease_s: float) -> dict[str, Any] | None:
    """Take the row for one attempt (committed by the caller before sending), or None when it is delivered,
    failed, not yet due, or leased by another worker."""
    return fetch_one(
        conn,
        "UPDATE notification_outbox o SET status = 'sending', attempts = o.attempts + 1, "
        "lease_until = now() + make_interval(secs => %s) "
        "FROM notify_channels c WHERE o.id = %s AND c.id = o.channel_id "
        "AND o.status IN ('pending', 'sending') AND o.next_attempt_at <= now() "
        "AND (o.lease_until IS NULL OR o.lease_until < now()) "
        "RETURNING o.id, o.alert_id, o.event, o.idempotency_key, o.payload, o.attempts, o.max_attempts, "
        "c.name AS channel_name, c.type AS channel_type, c.config AS channel_config, c.enabled AS channel_enabled",
        (lease_s, outbox_id),
    )


def send(row: dict[str, Any], cfg: AlertsConfig, external_url: str) -> SendResult:
    if not row["channel_enabled"]:
        return SendResult(False, False, None, f"channel {row['channel_name']!r} is disabled")
    try:
        ch = parse_config(row["channel_type"], row["channel_config"])
    except ValueError as exc:
        return SendResult(False, False, None, f"channel {row['channel_name']!r} config invalid: {exc}")
    if row["event"] == "cap":
        if not isinstance(ch, WebhookConfig):
            return SendResult(False, False, None, f"channel {row['channel_name']!r}: warnings go to webhooks only")
        return send_cap_webhook(ch, row["payload"], row["idempotency_key"], timeout_s=cfg.http_timeout_s)
    if isinstance(ch, WebhookConfig):
        return send_webhook(ch, row["payload"], row["idempotency_key"], receiver=row["channel_name"],
                            external_url=external_url, timeout_s=cfg.http_timeout_s)
    assert isinstance(ch, EmailConfig)
    return send_email(ch, row["payload"], row["idempotency_key"], external_url=external_url,
                      timeout_s=cfg.smtp_timeout_s)


def record(conn: Conn, row: dict[str, Any], result: SendResult, started: datetime, worker: str,
           cfg: AlertsConfig) -> Outcome:
    attempt = int(row["attempts"])
    if result.ok:
        outcome, status, delay = "delivered", "delivered", None
    elif result.recoverable and attempt < int(row["max_attempts"]):
        outcome, status, delay = "retry", "pending", backoff(attempt, cfg)
    else:
        outcome, status, delay = "failed", "failed", None
    conn.execute(
        "INSERT INTO notification_deliveries (outbox_id, attempt, started_at, outcome, status_code, error, worker) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (row["id"], attempt, started, outcome, result.status_code, result.error, worker),
    )
    updated = conn.execute(
        "UPDATE notification_outbox SET status = %s, lease_until = NULL, last_error = %s, "
        "delivered_at = CASE WHEN %s = 'delivered' THEN now() ELSE delivered_at END, "
        "next_attempt_at = now() + make_interval(secs => %s) "
        "WHERE id = %s AND attempts = %s AND status = 'sending'",
        (status, result.error, status, delay or 0.0, row["id"], attempt),
    ).rowcount
    if updated and row["alert_id"] is not None and outcome != "retry":
        kind = "notified" if outcome == "delivered" else "notify_failed"
        detail = {"event": row["event"], "channel": row["channel_name"], "attempt": attempt,
                  "status_code": result.status_code, "error": result.error,
                  "idempotency_key": row["idempotency_key"]}
        conn.execute("INSERT INTO alert_timeline (alert_id, kind, actor, detail) VALUES (%s, %s, %s, %s)",
                     (row["alert_id"], kind, f"channel:{row['channel_name']}", Jsonb(detail)))
        alert = fetch_alert(conn, f"SELECT {ALERT_COLUMNS} FROM alerts a WHERE a.id = %s", (row["alert_id"],))
        if alert is not None:
            emit(conn, "alert", {**alert_json(alert), "transition": kind, "detail": detail},
                 subject=f"alert:{alert.id}", ward_code=(alert.labels or {}).get("ward"))
    return Outcome(int(row["id"]), outcome, attempt, delay, result.error)


def deliver(database_url: str, outbox_id: int, *, external_url: str = "http://127.0.0.1:8000",
            cfg: AlertsConfig | None = None, worker: str | None = None) -> Outcome:
    """One delivery attempt of one outbox row (claim → send → record)."""
    cfg = cfg or get_config()
    worker = worker or f"{socket.gethostname()}:{os.getpid()}"
    with connect(database_url) as conn:
        with conn.transaction():
            row = claim(conn, outbox_id, cfg.delivery_lease_s)
        if row is None:
            return Outcome(outbox_id, "skipped")
        started = datetime.now(UTC)
        result = send(row, cfg, external_url)
        with conn.transaction():
            out = record(conn, row, result, started, worker, cfg)
    log.info("outbox %s attempt %s via %s: %s%s", outbox_id, out.attempt, row["channel_name"], out.outcome,
             f" ({out.error})" if out.error else "")
    return out


def due(conn: Conn, limit: int = 500, lease_s: float | None = None) -> list[int]:
    """Rows ready for an attempt that no worker holds, marked enqueued (so one dispatcher pass enqueues each once
    per lease period). Includes rows whose worker died mid-send (lease expired)."""
    lease = lease_s if lease_s is not None else get_config().delivery_lease_s
    rows = conn.execute(
        "WITH d AS (SELECT id FROM notification_outbox WHERE status IN ('pending', 'sending') "
        "AND next_attempt_at <= now() AND (lease_until IS NULL OR lease_until < now()) "
        "AND (enqueued_at IS NULL OR enqueued_at < now() - make_interval(secs => %s) "
        "     OR enqueued_at < next_attempt_at) "
        "ORDER BY next_attempt_at LIMIT %s FOR UPDATE SKIP LOCKED) "
        "UPDATE notification_outbox o SET enqueued_at = now() FROM d WHERE o.id = d.id RETURNING o.id",
        (lease, limit),
    ).fetchall()
    return sorted(int(r[0]) for r in rows)
