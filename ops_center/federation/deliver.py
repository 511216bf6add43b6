"""Delivery of snapshots to the national instance, as the alert notifier does it: claim (a lease, committed),
send (outside any transaction), record — so a worker killed mid-send leaves a row another worker re-sends after the
lease, and the national side, idempotent by (province, kind, period, version), stores it once.

Recoverable failures (the national instance down, timeouts, 5xx, 408/425/429) are retried with capped exponential
backoff for as long as it takes: a province holds its snapshots and replays them. Anything else (a 4xx: refused
credential, a province code not its own, a schema the national instance does not know) fails the row at once; it
stays in the outbox, visible, for ``ops-center federation replay`` after the cause is fixed.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from ops_center.db import connect
from ops_center.delivery import SendResult, backoff, post_json
from ops_center.federation import outbox
from ops_center.federation.config import FederationConfig
from ops_center.federation.wire import HEARTBEAT_ID, SCHEMA_VERSION

log = logging.getLogger("ops_center.federation.deliver")
SOFTWARE = "ops-center 0.1.0"
SNAPSHOTS_PATH = "/federation/v1/snapshots"
HEARTBEAT_PATH = "/federation/v1/heartbeat"


@dataclass(frozen=True)
class Outcome:
    outbox_id: int
    outcome: str  # delivered | retry | failed | superseded | skipped
    attempt: int = 0
    retry_in_s: float | None = None
    answer: str | None = None
    error: str | None = None


def _headers(cfg: FederationConfig, key: str | None = None) -> dict[str, str]:
    assert cfg.token is not None
    headers = {"Authorization": f"Bearer {cfg.token.get_secret_value()}", "User-Agent": SOFTWARE}
    if key:
        headers["Idempotency-Key"] = key
    return headers


def _url(cfg: FederationConfig, path: str) -> str:
    assert cfg.upstream_url is not None
    return cfg.upstream_url.rstrip("/") + path


def _answer(result: SendResult) -> str | None:
    try:
        body = orjson.loads(result.body) if result.body else {}
    except orjson.JSONDecodeError:
        return None
    value = body.get("outcome") if isinstance(body, dict) else None
    return str(value)[:20] if value is not None else None


def deliver(database_url: str, outbox_id: int, cfg: FederationConfig, *, worker: str | None = None) -> Outcome:
    """One attempt for one outbox row."""
    worker = worker or f"{socket.gethostname()}:{os.getpid()}"
    with connect(database_url) as conn:
        with conn.transaction():
            row = outbox.claim(conn, outbox_id, cfg.delivery_lease_s)
        if row is None:
            return Outcome(outbox_id, "skipped")
        started = datetime.now(UTC)
        with conn.transaction():
            if outbox.supersede_if_newer(conn, row, started, worker):
                return Outcome(outbox_id, "superseded", int(row["attempts"]))
        env = row["envelope"]
        key = f"{env['province']}:{row['kind']}:{row['period']}:{row['version']}"
        result = post_json(_url(cfg, SNAPSHOTS_PATH), orjson.dumps(env), _headers(cfg, key), cfg.http_timeout_s)
        attempt = int(row["attempts"])
        if result.ok:
            out = Outcome(outbox_id, "delivered", attempt, answer=_answer(result))
        elif result.recoverable:
            out = Outcome(outbox_id, "retry", attempt, backoff(attempt, cfg.retry_base_s, cfg.retry_max_s),
                          error=result.error)
        else:
            out = Outcome(outbox_id, "failed", attempt, error=result.error)
        with conn.transaction():
            outbox.record(conn, row, outcome=out.outcome, status_code=result.status_code, error=out.error,
                          answer=out.answer, retry_in_s=out.retry_in_s, started=started, worker=worker)
    log.info("federation outbox %s (%s %s v%s) attempt %s: %s%s", outbox_id, row["kind"], row["period"],
             row["version"], attempt, out.outcome, f" ({out.error})" if out.error else "")
    return out


def heartbeat(cfg: FederationConfig, pending: int, now: datetime | None = None) -> SendResult:
    """Tell the national instance this province is alive and on which schedule; never raises."""
    assert cfg.province_code is not None
    body = {"schema": HEARTBEAT_ID, "schema_version": SCHEMA_VERSION, "province": cfg.province_code,
            "sent_at": (now or datetime.now(UTC)).isoformat(),
            "publish_interval_s": max(1, round(cfg.publish_interval_s)), "outbox_pending": pending,
            "software": SOFTWARE}
    result = post_json(_url(cfg, HEARTBEAT_PATH), orjson.dumps(body), _headers(cfg), cfg.http_timeout_s)
    if not result.ok:
        log.warning("federation heartbeat to %s failed: %s", cfg.upstream_url, result.error)
    return result
