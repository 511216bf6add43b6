"""End to end through real processes: a device publishes over MQTT to our Mosquitto, the real ingest process stores
the batch and evaluates stream rules inline; scheduled rules run in a real Celery worker; the notification travels
the outbox to a real local webhook receiver."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from psycopg.types.json import Jsonb

from alerts import escalation
from ops_center.db import Conn, fetch_all
from tests.alerts.conftest import make_device, make_rule, uid
from tests.alerts.receivers import webhook_receiver
from tests.alerts.test_notify import worker
from tests.pipeline.conftest import IngestProc, discard_session
from tests.support.services import free_port


@contextmanager
def ingest(stack: Any, tmp_path: Any) -> Iterator[IngestProc]:
    group = uid("g").replace("-", "")
    port = free_port()
    env = {**stack.env, "OPS_INGEST_SHARE_GROUP": group, "OPS_INGEST_CLIENT_ID": f"ingest-{group}",
           "OPS_INGEST_METRICS_PORT": str(port), "OPS_INGEST_FLUSH_MS": "20", "OPS_ALERTS_RULES_REFRESH_S": "0.5"}
    p = IngestProc(env, f"ingest-{group}", port, tmp_path / "ingest.log")
    p.start()
    try:
        yield p
    finally:
        if p.proc is not None and p.proc.poll() is None:
            p.terminate()
        s = stack.settings
        discard_session(s.mqtt_host, s.mqtt_port, s.mqtt_username, s.mqtt_password.get_secret_value(), p.client_id)


@contextmanager
def device_client(stack: Any) -> Iterator[Callable[[str, float, dict[str, float]], None]]:
    s = stack.settings
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=uid("pub"), protocol=mqtt.MQTTv5)
    c.username_pw_set(s.mqtt_username, s.mqtt_password.get_secret_value())
    c.connect(s.mqtt_host, s.mqtt_port)
    c.loop_start()

    def send(device: str, ts: float, metrics: dict[str, float]) -> None:
        body = orjson.dumps({"ts": ts, "metrics": metrics})
        c.publish(f"ops/v1/devices/{device}/telemetry", body, qos=1).wait_for_publish(10)

    try:
        yield send
    finally:
        c.disconnect()
        c.loop_stop()


def _alerts(conn: Conn, rule_id: int) -> list[dict[str, Any]]:
    rows = fetch_all(conn, "SELECT * FROM alerts WHERE rule_id = %s ORDER BY id", (rule_id,))
    conn.commit()
    return rows


def _until(what: str, check: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_stream_rules_through_mqtt_and_the_ingest_process(stack, conn, tmp_path) -> None:  # type: ignore[no-untyped-def]
    gauge = make_device(conn, kind="water_level", ward="32005", interval_s=60)
    tide = make_device(conn, kind="tide_gauge", ward="32005", interval_s=60)
    level = make_rule(conn, {"kind": "threshold", "metric": "water_level_cm", "operator": ">", "value": 100,
                             "clear": 90, "scope": {"device": gauge}, "severity": "critical"})
    surge = make_rule(conn, {"kind": "rate", "metric": "water_level_cm", "operator": ">", "value": 30,
                             "window": "5m", "scope": {"device": tide}})
    t = time.time() - 600
    with ingest(stack, tmp_path) as proc, device_client(stack) as send:
        send(gauge, t, {"water_level_cm": 50.0})
        send(tide, t, {"water_level_cm": 100.0})
        send(gauge, t + 60, {"water_level_cm": 120.0})
        send(tide, t + 60, {"water_level_cm": 140.0})
        [a] = _until("the threshold alert", lambda: _alerts(conn, level))
        assert a["ends_at"] is None and a["value"] == 120.0 and a["labels"]["ward"] == "32005"
        [r] = _until("the rate alert", lambda: _alerts(conn, surge))
        assert r["ends_at"] is None
        send(gauge, t + 120, {"water_level_cm": 95.0})   # inside the hysteresis band: still firing
        send(tide, t + 420, {"water_level_cm": 141.0})  # the surge has left the 5-minute window
        send(gauge, t + 180, {"water_level_cm": 85.0})   # below the clear value: resolved
        _until("the threshold alert to resolve", lambda: _alerts(conn, level)[0]["ends_at"] is not None)
        _until("the rate alert to resolve", lambda: _alerts(conn, surge)[0]["ends_at"] is not None)
        [a] = _alerts(conn, level)
        assert a["ends_at"].timestamp() == round(t + 180, 6)
        assert proc.proc is not None and proc.proc.poll() is None


def test_scheduled_rule_in_a_real_worker_notifies_a_real_receiver(stack, settings, conn, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from celery import Celery

    kind = "e2e_" + uid("k")[2:].replace("-", "")
    with webhook_receiver() as rec, worker(stack, uid("w-e2e")):
        ch = uid("ch")
        conn.execute("INSERT INTO notify_channels (name, type, config) VALUES (%s, 'webhook', %s)",
                     (ch, Jsonb({"url": rec.url})))
        pol = uid("pol")
        escalation.upsert_policy(conn, escalation.validate_policy({"name": pol, "steps": [{"channels": [ch]}]}),
                                 "test")
        conn.commit()
        silent = make_device(conn, kind=kind, interval_s=60, last_seen=None)
        conn.execute("UPDATE devices SET created_at = now() - interval '1 hour' WHERE id = %s", (silent,))
        conn.commit()
        rid = make_rule(conn, {"kind": "absence", "scope": {"kind": kind}, "escalation": pol, "severity": "major"})
        app = Celery(broker=settings.redis_url)
        app.send_task("alerts.evaluate")
        [a] = _until("the absence alert", lambda: _alerts(conn, rid))
        assert a["subject"] == silent and "no data from" in a["summary"]
        # the evaluate task enqueued the delivery itself
        body = _until("the webhook", lambda: next(iter(rec.delivered.values()), None))
        assert body["alert"]["id"] == a["id"] and body["event"] == "firing"
        # the device comes back: the next cycle resolves the alert and the channel hears it
        conn.execute("UPDATE devices SET last_seen = now() WHERE id = %s", (silent,))
        conn.execute("UPDATE alert_rules SET last_evaluated_at = NULL WHERE id = %s", (rid,))
        conn.commit()
        app.send_task("alerts.evaluate")
        _until("the resolve", lambda: _alerts(conn, rid)[0]["ends_at"] is not None)
        _until("the resolved message", lambda: len(rec.delivered) == 2)
        assert sorted(b["event"] for b in rec.delivered.values()) == ["firing", "resolved"]


def test_tick_in_a_real_worker_unmutes_when_a_silence_expires(stack, settings, conn) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime, timedelta

    from celery import Celery

    from alerts import lifecycle, silences
    from alerts.lifecycle import Firing
    from alerts.rules import store

    with webhook_receiver() as rec, worker(stack, uid("w-tick")):
        ch = uid("ch")
        conn.execute("INSERT INTO notify_channels (name, type, config) VALUES (%s, 'webhook', %s)",
                     (ch, Jsonb({"url": rec.url})))
        pol = uid("pol")
        escalation.upsert_policy(conn, escalation.validate_policy({"name": pol, "steps": [{"channels": [ch]}]}),
                                 "test")
        conn.commit()
        rid = make_rule(conn, {"kind": "threshold", "metric": "ph", "operator": "<", "value": 5, "escalation": pol,
                               "scope": {"device": "none"}})
        dev = uid("dev")
        now = datetime.now(UTC)
        silences.create(conn, silences.validate_silence({
            "matchers": [{"name": "device", "value": dev}], "ends_at": (now + timedelta(seconds=2)).isoformat(),
            "comment": "Hiệu chuẩn đầu đo pH"}), "op", now)
        rule = store.stored(store.get_rule(conn, rid))  # type: ignore[arg-type]
        change = lifecycle.fire(conn, Firing(rule.ref, dev, {"device": dev}, f"pH thấp tại {dev}", 4.2, now), now=now)
        conn.commit()
        assert change is not None and change.alert.muted
        time.sleep(2.2)
        Celery(broker=settings.redis_url).send_task("alerts.tick")
        body = _until("the notification after the silence expired", lambda: next(iter(rec.delivered.values()), None))
        assert body["alert"]["id"] == change.alert.id and body["transition"] == "unmuted"
        [a] = _alerts(conn, rid)
        assert not a["muted"]
