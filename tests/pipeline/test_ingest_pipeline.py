"""The ingest pipeline end to end: real publishers in their own processes, our Mosquitto, real ingest processes,
real PostgreSQL. Every case checks exact counts: every published reading stored exactly once."""

from __future__ import annotations

import secrets
import time

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.pipeline.conftest import add_devices, count_readings, publish, wait_count

N_BURST = 30_000  # far above Mosquitto's stock limits (20 in flight, 1,000 queued)


def _prefix() -> str:
    return f"p{secrets.token_hex(3)}_"


def test_burst_stored_exactly_once_with_latest_and_last_seen(stack, db, ingest_factory) -> None:  # type: ignore[no-untyped-def]
    prefix = _prefix()
    add_devices(db, prefix, 50)
    ing = ingest_factory()
    ing.start()
    pub = publish(stack, N_BURST, prefix=prefix, devices=50)
    assert pub.wait(180) == 0
    assert wait_count(db, prefix, N_BURST) == N_BURST
    time.sleep(0.5)
    assert count_readings(db, prefix) == N_BURST
    seen = db.execute("SELECT count(*) FROM devices WHERE id LIKE %s AND last_seen IS NOT NULL",
                      (prefix + "%",)).fetchone()[0]
    assert seen == 50
    latest = db.execute("SELECT count(*), sum(value) FROM readings_latest WHERE device_id LIKE %s",
                        (prefix + "%",)).fetchone()
    assert latest[0] == 50
    hourly = db.execute("SELECT sum(count) FROM readings_hourly WHERE device_id LIKE %s", (prefix + "%",)).fetchone()
    assert hourly[0] == N_BURST
    assert ing.terminate() == 0
    assert (ing.metric("ingest_readings_stored_total") or 0) >= 0  # process gone: metric endpoint closed


def test_sigkill_mid_stream_then_restart(stack, db, ingest_factory) -> None:  # type: ignore[no-untyped-def]
    prefix = _prefix()
    add_devices(db, prefix, 20)
    ing = ingest_factory()
    ing.start()
    pub = publish(stack, N_BURST, prefix=prefix, devices=20, rate=10_000)
    while count_readings(db, prefix) < N_BURST // 4:
        time.sleep(0.05)
    ing.kill()
    killed_at = count_readings(db, prefix)
    assert killed_at < N_BURST
    ing.start()
    assert pub.wait(180) == 0
    assert wait_count(db, prefix, N_BURST) == N_BURST
    time.sleep(0.5)
    assert count_readings(db, prefix) == N_BURST
    ing.terminate()


def test_broker_restart_mid_stream(stack, db, ingest_factory) -> None:  # type: ignore[no-untyped-def]
    prefix = _prefix()
    add_devices(db, prefix, 20)
    ing = ingest_factory()
    ing.start()
    pub = publish(stack, N_BURST, prefix=prefix, devices=20, rate=8_000)
    while count_readings(db, prefix) < N_BURST // 4:
        time.sleep(0.05)
    stack.broker.restart()
    assert pub.wait(240) == 0
    assert wait_count(db, prefix, N_BURST, timeout=180) == N_BURST
    time.sleep(0.5)
    assert count_readings(db, prefix) == N_BURST
    assert ing.proc is not None and ing.proc.poll() is None  # the same process reconnected
    ing.terminate()


def test_two_ingest_processes_share_the_stream(stack, db, ingest_factory) -> None:  # type: ignore[no-untyped-def]
    prefix = _prefix()
    add_devices(db, prefix, 40)
    a, b = ingest_factory(0), ingest_factory(1)
    a.start()
    b.start()
    pub = publish(stack, N_BURST, prefix=prefix, devices=40)
    assert pub.wait(180) == 0
    assert wait_count(db, prefix, N_BURST) == N_BURST
    time.sleep(0.5)
    assert count_readings(db, prefix) == N_BURST
    got_a = a.metric("ingest_messages_acked_total") or 0
    got_b = b.metric("ingest_messages_acked_total") or 0
    assert got_a > 0 and got_b > 0, (got_a, got_b)
    assert got_a + got_b >= N_BURST
    a.terminate()
    b.terminate()


def test_sigterm_flushes_acks_and_exits_cleanly(stack, db, ingest_factory) -> None:  # type: ignore[no-untyped-def]
    prefix = _prefix()
    add_devices(db, prefix, 10)
    ing = ingest_factory(0, OPS_INGEST_FLUSH_MS="2000", OPS_INGEST_BATCH_MAX="100000")
    ing.start()
    pub = publish(stack, 3000, prefix=prefix, devices=10)
    assert pub.wait(60) == 0
    time.sleep(0.3)
    assert ing.terminate() == 0
    assert count_readings(db, prefix) == 3000
    assert "ingest stopped cleanly" in ing.log.read_text()


def test_gateway_packs_and_bad_input_land_in_dead_letters(stack, db, ingest_factory) -> None:  # type: ignore[no-untyped-def]
    prefix = _prefix()
    gw = f"gw-{secrets.token_hex(3)}"
    add_devices(db, prefix, 25, gateway=gw)
    ing = ingest_factory()
    ing.start()
    pub = publish(stack, 200, prefix=prefix, devices=25, kind="gateway", extra=["--gateway", gw, "--pack", "50"])
    assert pub.wait(60) == 0
    assert wait_count(db, prefix, 200 * 50) == 200 * 50

    s = stack.settings
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bad-{prefix}", protocol=mqtt.MQTTv5)
    c.username_pw_set(s.mqtt_username, s.mqtt_password.get_secret_value())
    c.connect(s.mqtt_host, s.mqtt_port)
    c.loop_start()
    dev = f"{prefix}0"
    now = time.time()
    bad = [
        (f"ops/v1/devices/{dev}/telemetry", b"{not json"),
        (f"ops/v1/devices/{dev}/telemetry", orjson.dumps({"ts": now, "metrics": {"salinity_ppt": 75.2}})),
        (f"ops/v1/devices/{dev}/telemetry", orjson.dumps({"ts": now, "metrics": {"x'; DROP TABLE readings;--": 1}})),
        (f"ops/v1/devices/{prefix}unknown/telemetry", orjson.dumps({"ts": now, "metrics": {"rain_mm": 1}})),
        (f"ops/v1/devices/{dev}/telemetry", b"[" * 5000 + b"]" * 5000),
        (f"ops/v1/devices/{dev}/telemetry", b"x" * 200_000),
        (f"ops/v1/devices/{dev}/telemetry", orjson.dumps({"ts": now + 3600, "metrics": {"rain_mm": 1}})),
    ]
    for topic, body in bad:
        c.publish(topic, body, qos=1).wait_for_publish(10)
    good = orjson.dumps({"ts": now, "metrics": {"water_level_cm": 12.5}})
    c.publish(f"ops/v1/devices/{dev}/telemetry", good, qos=1).wait_for_publish(10)
    c.disconnect()
    c.loop_stop()
    deadline = time.monotonic() + 20
    rows: list = []
    while time.monotonic() < deadline:
        rows = db.execute("SELECT reason, detail, payload_size, length(payload) FROM dead_letters "
                          "WHERE topic LIKE %s ORDER BY id", (f"ops/v1/devices/{prefix}%",)).fetchall()
        if len(rows) >= len(bad):
            break
        time.sleep(0.2)
    reasons = [r[0] for r in rows]
    assert reasons == ["parse_error", "out_of_range", "unknown_metric", "unknown_device", "too_deep",
                       "payload_too_large", "ts_in_future"], rows
    assert "75.2" in rows[1][1] and "salinity_ppt" in rows[1][1]
    assert rows[5][2] == 200_000 and rows[5][3] <= stack.settings.dead_letter_payload_cap
    assert wait_count(db, prefix, 200 * 50 + 1) == 200 * 50 + 1
    ing.terminate()


def test_postgres_restart_mid_stream(stack, ingest_factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Our own PostgreSQL cluster, stopped for a few seconds mid-stream: ingest stops acking, retries with
    backoff and resumes; every reading is stored exactly once."""
    from ops_center.db import connect
    from ops_center.migrate import migrate
    from tests.support.services import private_postgres

    with private_postgres() as pg:
        with connect(pg.admin_url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE ops")
        url = pg.admin_url.rsplit("/", 1)[0] + "/ops"
        with connect(url, autocommit=True) as db:
            migrate(db, "postgres")
            prefix = _prefix()
            add_devices(db, prefix, 20)
        ing = ingest_factory(0, OPS_DATABASE_URL=url)
        ing.start()
        pub = publish(stack, N_BURST, prefix=prefix, devices=20, rate=6_000)
        with connect(url, autocommit=True) as db:
            while count_readings(db, prefix) < N_BURST // 5:
                time.sleep(0.05)
        pg.stop()
        time.sleep(3)
        pg.start()
        assert pub.wait(240) == 0
        with connect(url, autocommit=True) as db:
            assert wait_count(db, prefix, N_BURST, timeout=180) == N_BURST
            time.sleep(0.5)
            assert count_readings(db, prefix) == N_BURST
        assert "database unavailable" in ing.log.read_text()
        assert ing.terminate() == 0
