"""Notifications end to end: outbox rows written with the transition, delivered by a real Celery worker process over
the test stack's Redis to a real local HTTP server and a real local SMTP server; retries, the delivery log, and no
double delivery when the worker is killed mid-send."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from psycopg.types.json import Jsonb

from alerts import escalation, lifecycle
from alerts.config import AlertsConfig
from alerts.lifecycle import Firing
from alerts.notify import deliver as delivery
from alerts.rules import store
from ops_center.db import Conn, connect, fetch_all, fetch_one
from tests.alerts.conftest import alerts_for, kinds, make_rule, uid
from tests.alerts.receivers import smtp_receiver, webhook_receiver

REPO = Path(__file__).resolve().parents[2]
WORKER_ENV = {"OPS_ALERTS_RETRY_BASE_S": "0.3", "OPS_ALERTS_DELIVERY_LEASE_S": "3", "OPS_ALERTS_HTTP_TIMEOUT_S": "20"}
FAST = AlertsConfig(retry_base_s=0.3, delivery_lease_s=3, http_timeout_s=20)


def _setup(conn: Conn, channel_type: str, config: dict[str, Any], *, severity: str = "critical") -> tuple[int, str]:
    ch = uid("ch")
    conn.execute("INSERT INTO notify_channels (name, type, config) VALUES (%s, %s, %s)",
                 (ch, channel_type, Jsonb(config)))
    policy = uid("policy")
    escalation.upsert_policy(conn, escalation.validate_policy({"name": policy, "steps": [{"channels": [ch]}]}),
                             "test")
    conn.commit()
    rid = make_rule(conn, {"kind": "threshold", "metric": "salinity_ppt", "operator": ">", "value": 4,
                           "severity": severity, "escalation": policy,
                           "name": f"Độ mặn vượt ngưỡng {uid('r')}"})
    return rid, ch


def _fire(conn: Conn, rule_id: int) -> dict[str, Any]:
    rule = store.stored(store.get_rule(conn, rule_id))  # type: ignore[arg-type]
    subject = uid("dev")
    labels = {"device": subject, "ward": "32014", "kind": "salinity", "metric": "salinity_ppt", "level": "device"}
    change = lifecycle.fire(conn, Firing(rule.ref, subject, labels, f"Độ mặn 6.2‰ tại cống Xẻo Rô ({subject})", 6.2,
                                         datetime.now(UTC)))
    conn.commit()
    assert change is not None
    return dataclasses.asdict(change.alert)


def _outbox(conn: Conn, alert_id: int) -> list[dict[str, Any]]:
    rows = fetch_all(conn, "SELECT * FROM notification_outbox WHERE alert_id = %s ORDER BY id", (alert_id,))
    conn.commit()
    return rows


def _log(conn: Conn, outbox_id: int) -> list[dict[str, Any]]:
    rows = fetch_all(conn, "SELECT * FROM notification_deliveries WHERE outbox_id = %s ORDER BY id", (outbox_id,))
    conn.commit()
    return rows


def _wait(what: str, check: Callable[[], bool], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@contextmanager
def worker(stack: Any, name: str) -> Iterator[subprocess.Popen[bytes]]:
    """A real ``ops-center worker`` process (its own process group, so a SIGKILL takes its pool children too)."""
    log = open(stack.run_dir / f"worker-{name}.log", "ab")  # noqa: SIM115 - owned by the process
    proc = subprocess.Popen(
        [str(REPO / ".venv/bin/ops-center"), "worker", "--concurrency", "1", "--loglevel", "INFO",
         "--hostname", f"{name}@localhost"],
        env={**stack.env, **WORKER_ENV}, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        log.close()


def _status(conn: Conn, outbox_id: int) -> str:
    row = fetch_one(conn, "SELECT status FROM notification_outbox WHERE id = %s", (outbox_id,))
    conn.commit()
    return str(row["status"]) if row else ""


def _dispatch_mine(settings: Any, outbox_id: int, lease_s: float) -> bool:
    """What the beat dispatcher does, for this test's row only: enqueue it if it is due and nobody holds it."""
    from alerts import tasks

    with connect(settings.database_url) as c, c.transaction():
        due = delivery.due(c, 10_000, lease_s=lease_s)
    if outbox_id in due:
        tasks.deliver.delay(outbox_id)
        return True
    return False


def test_webhook_retried_after_receiver_errors_then_delivered_once(stack, conn) -> None:  # type: ignore[no-untyped-def]
    from alerts import tasks

    with webhook_receiver(script=[503, 502]) as rec, worker(stack, uid("w-retry")):
        rid, _ = _setup(conn, "webhook", {"url": rec.url})
        alert = _fire(conn, rid)
        [ob] = _outbox(conn, alert["id"])
        assert ob["event"] == "firing" and ob["status"] == "pending"
        tasks.deliver.delay(ob["id"])
        _wait("delivery", lambda: _status(conn, ob["id"]) == "delivered")
    assert len(rec.requests) == 3 and len(rec.delivered) == 1
    assert {r["key"] for r in rec.requests} == {ob["idempotency_key"]}
    assert [d["outcome"] for d in _log(conn, ob["id"])] == ["retry", "retry", "delivered"]
    assert [d["status_code"] for d in _log(conn, ob["id"])] == [503, 502, 200]
    body = rec.delivered[ob["idempotency_key"]]
    assert body["version"] == "ops-1" and body["alert"]["id"] == alert["id"] and body["event"] == "firing"
    assert body["alert"]["summary"].startswith("Độ mặn 6.2‰")
    assert kinds(conn, alert["id"])[-1] == "notified"


def test_worker_killed_mid_delivery_never_sends_twice(stack, settings, conn) -> None:  # type: ignore[no-untyped-def]
    from alerts import tasks

    with webhook_receiver(slow_first_s=8.0) as rec:
        rid, _ = _setup(conn, "webhook", {"url": rec.url})
        alert = _fire(conn, rid)
        [ob] = _outbox(conn, alert["id"])
        with worker(stack, uid("w-killed")) as proc:
            tasks.deliver.delay(ob["id"])
            assert rec.got_request.wait(60), "the worker never sent the request"
            # the receiver has the notification but has not answered: kill the worker and its pool now
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        assert _status(conn, ob["id"]) == "sending"
        assert len(rec.delivered) == 1 and len(rec.requests) == 1
        with worker(stack, uid("w-restarted")):
            # the beat dispatcher re-enqueues the row once its lease has run out
            _wait("the lease to expire and the row to be re-enqueued",
                  lambda: _dispatch_mine(settings, ob["id"], lease_s=3), timeout=60)
            _wait("delivery", lambda: _status(conn, ob["id"]) == "delivered")
    # sent twice over the wire, with the same key; the receiver counted one delivery
    assert len(rec.requests) == 2 and {r["key"] for r in rec.requests} == {ob["idempotency_key"]}
    assert len(rec.delivered) == 1
    row = _outbox(conn, alert["id"])[0]
    assert row["attempts"] == 2 and row["delivered_at"] is not None
    assert [d["outcome"] for d in _log(conn, ob["id"])] == ["delivered"]  # the killed attempt left no outcome


def test_email_over_smtp_retried_after_a_temporary_failure(stack, conn) -> None:  # type: ignore[no-untyped-def]
    from alerts import tasks

    with smtp_receiver(script=["451 4.3.0 Thử lại sau / try again later"]) as smtp, worker(stack, uid("w-mail")):
        rid, _ = _setup(conn, "email", {"to": ["truc-ban@camau.gov.vn"], "from_addr": "ioc@camau.gov.vn",
                                        "host": "127.0.0.1", "port": smtp.port})
        alert = _fire(conn, rid)
        [ob] = _outbox(conn, alert["id"])
        tasks.deliver.delay(ob["id"])
        _wait("delivery", lambda: _status(conn, ob["id"]) == "delivered")
    assert len(smtp.messages) == 2 and len(smtp.delivered) == 1
    msg = smtp.delivered[f"<{ob['idempotency_key']}@ops-center>"]
    assert "[CRITICAL] Độ mặn vượt ngưỡng" in str(msg["Subject"])
    assert msg["To"] == "truc-ban@camau.gov.vn"
    text = msg.get_content()
    assert "Độ mặn 6.2‰ tại cống Xẻo Rô" in text and "Mức độ / severity: critical" in text
    assert [d["outcome"] for d in _log(conn, ob["id"])] == ["retry", "delivered"]
    assert [d["status_code"] for d in _log(conn, ob["id"])] == [451, 250]


def test_client_errors_are_not_retried(settings, conn) -> None:  # type: ignore[no-untyped-def]
    with webhook_receiver(script=[400]) as rec:
        rid, _ = _setup(conn, "webhook", {"url": rec.url})
        alert = _fire(conn, rid)
        [ob] = _outbox(conn, alert["id"])
        out = delivery.deliver(settings.database_url, ob["id"], cfg=FAST)
    assert out.outcome == "failed" and len(rec.requests) == 1
    assert _outbox(conn, alert["id"])[0]["status"] == "failed"
    assert kinds(conn, alert["id"])[-1] == "notify_failed"
    # a failed row is never claimed again
    assert delivery.deliver(settings.database_url, ob["id"], cfg=FAST).outcome == "skipped"


def test_smtp_permanent_failure_is_not_retried(settings, conn) -> None:  # type: ignore[no-untyped-def]
    with smtp_receiver(script=["550 5.1.1 Hộp thư không tồn tại / mailbox unavailable"]) as smtp:
        rid, _ = _setup(conn, "email", {"to": ["khong-co@camau.gov.vn"], "host": "127.0.0.1", "port": smtp.port})
        alert = _fire(conn, rid)
        [ob] = _outbox(conn, alert["id"])
        out = delivery.deliver(settings.database_url, ob["id"], cfg=FAST)
    assert out.outcome == "failed" and len(smtp.messages) == 1


def test_timeouts_and_refused_connections_are_retried_with_backoff(settings, conn) -> None:  # type: ignore[no-untyped-def]
    with webhook_receiver(slow_first_s=2.0) as rec:
        rid, _ = _setup(conn, "webhook", {"url": rec.url, "timeout_s": 0.3})
        alert = _fire(conn, rid)
        [ob] = _outbox(conn, alert["id"])
        out = delivery.deliver(settings.database_url, ob["id"], cfg=FAST)
        assert out.outcome == "retry" and out.error is not None and out.error.startswith("timeout")
        assert out.retry_in_s is not None and 0.2 <= out.retry_in_s <= 0.4
        # not due yet: nobody may claim it
        assert delivery.deliver(settings.database_url, ob["id"], cfg=FAST).outcome == "skipped"
    rid, _ = _setup(conn, "webhook", {"url": "http://127.0.0.1:9/closed"})
    alert = _fire(conn, rid)
    [ob] = _outbox(conn, alert["id"])
    out = delivery.deliver(settings.database_url, ob["id"], cfg=FAST)
    assert out.outcome == "retry" and "transport" in (out.error or "")
    row = _outbox(conn, alert["id"])[0]
    assert row["status"] == "pending" and row["next_attempt_at"] > row["created_at"]


def test_alertmanager_compatible_payload_and_resolved_message(settings, conn) -> None:  # type: ignore[no-untyped-def]
    with webhook_receiver() as rec:
        rid, ch = _setup(conn, "webhook", {"url": rec.url, "format": "alertmanager",
                                           "headers": {"Authorization": "Bearer s3cret"}})
        alert = _fire(conn, rid)
        lifecycle.resolve(conn, alert_id=alert["id"])
        conn.commit()
        rows = _outbox(conn, alert["id"])
        assert [r["event"] for r in rows] == ["firing", "resolved"]
        for r in rows:
            assert delivery.deliver(settings.database_url, r["id"], cfg=FAST).outcome == "delivered"
    firing, resolved = (rec.delivered[r["idempotency_key"]] for r in rows)
    assert rec.requests[0]["headers"]["authorization"] == "Bearer s3cret"
    assert firing["version"] == "4" and firing["status"] == "firing" and firing["receiver"] == ch
    [a] = firing["alerts"]
    assert a["labels"]["alertname"] == alerts_for(conn, rid)[0]["rule_name"]
    assert a["labels"]["severity"] == "critical" and a["labels"]["ward"] == "32014"
    assert a["endsAt"] == "0001-01-01T00:00:00Z" and a["fingerprint"] == alert["fingerprint"]
    assert a["annotations"]["summary"].startswith("Độ mặn 6.2‰")
    assert resolved["status"] == "resolved" and resolved["alerts"][0]["endsAt"] != "0001-01-01T00:00:00Z"
