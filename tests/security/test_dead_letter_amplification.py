"""Issue 11, item 5: dead-letter amplification.

One 64 KB message with thousands of unknown metric names used to become thousands of dead-letter rows. Now one
rejected message costs at most one row listing all its reasons (a partially accepted pack: one row listing the
rejected parts); a device over its rate cap gets its letters counted, not stored, and operators see the count through
the API and in Prometheus; a Celery beat task applies the retention policy. Real ingest process, broker, database,
API (through the ASGI app) and a real Celery worker on Redis.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from fastapi.testclient import TestClient

from app import celery as celery_app
from tests.pipeline.conftest import ingest_factory  # noqa: F401  (the fixture)
from tests.security.support_h_ingest import (
    add_devices,
    letters,
    publish_all,
    readings_of,
    service_publisher,
    settle,
    uid,
    wait_until,
)

REPO = Path(__file__).resolve().parents[2]


def test_one_message_with_thousands_of_unknown_metrics_costs_one_row(stack, db, ingest_factory) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    dev = uid("amp")
    add_devices(db, [dev])
    ing = ingest_factory()
    ing.start()
    metrics = {f"u{i:04d}": 1 for i in range(5400)}
    metrics["water_level_cm"] = 42.0
    body = orjson.dumps({"ts": time.time() - 5, "metrics": metrics})
    assert 50_000 < len(body) <= stack.settings.ingest_max_payload
    m = service_publisher(stack.settings)
    try:
        publish_all(m, [(f"ops/v1/devices/{dev}/telemetry", body)])
    finally:
        m.close()
    assert wait_until(lambda: readings_of(db, dev), lambda n: n >= 1) == 1
    rows = settle(lambda: letters(db, f"ops/v1/devices/{dev}/%"))
    assert len(rows) == 1
    row = rows[0]
    assert row["reason_count"] == 5400 and row["reason_codes"] == ["unknown_metric"]
    assert len(row["reasons"]) == 100  # listed up to the cap; counted in full
    assert row["reasons"][0]["field"] == "metrics.u0000" and row["detail"].startswith("5400 problems")
    assert row["payload_size"] == len(body) and len(bytes(row["payload"])) == stack.settings.dead_letter_payload_cap
    assert ing.metric("ingest_dead_letters_total") == 1.0
    assert ing.terminate() == 0


def test_a_partially_accepted_pack_costs_one_row_listing_the_rejected_parts(stack, db, ingest_factory,  # type: ignore[no-untyped-def]  # noqa: F811
                                                                          client: TestClient, login) -> None:
    dev = uid("pack")
    add_devices(db, [dev])
    ing = ingest_factory()
    ing.start()
    now = time.time()
    pack = [{"bn": f"{dev}:", "bt": now - 60, "n": "water_level_cm", "v": 1.0}]
    pack += [{"n": "water_level_cm", "t": i, "v": float(i)} for i in range(1, 8)]
    pack += [{"n": "water_level_cm", "t": 8, "v": 99999.0}, {"n": "bogus_metric", "t": 9, "v": 1.0},
             {"n": "water_level_cm", "t": 10, "vs": "high"}]
    m = service_publisher(stack.settings)
    try:
        publish_all(m, [(f"ops/v1/devices/{dev}/telemetry", orjson.dumps(pack))])
    finally:
        m.close()
    assert wait_until(lambda: readings_of(db, dev), lambda n: n >= 8) == 8
    rows = settle(lambda: letters(db, f"ops/v1/devices/{dev}/%"))
    assert len(rows) == 1
    assert [(r["reason"], r["field"]) for r in rows[0]["reasons"]] == [
        ("out_of_range", "[8].v"), ("unknown_metric", "[9].n"), ("non_numeric", "[10].vs")]
    op = login("operator")
    got = client.get("/dead-letters", headers=op.headers, params={"device": dev}).json()["items"]
    assert len(got) == 1 and got[0]["reason_count"] == 3 and len(got[0]["reasons"]) == 3
    assert got[0]["reason_codes"] == ["out_of_range", "unknown_metric", "non_numeric"]
    by_code = client.get("/dead-letters", headers=op.headers, params={"device": dev, "reason": "non_numeric"})
    assert [x["id"] for x in by_code.json()["items"]] == [got[0]["id"]]  # found by any of its reasons
    assert ing.terminate() == 0


def test_a_device_over_its_rate_cap_is_counted_not_stored(stack, db, ingest_factory, client: TestClient,  # type: ignore[no-untyped-def]  # noqa: F811
                                                          login) -> None:
    noisy, quiet = uid("noisy"), uid("quiet")
    add_devices(db, [noisy, quiet])
    ing = ingest_factory(0, OPS_DEAD_LETTER_DEVICE_CAP="5", OPS_DEAD_LETTER_DEVICE_WINDOW_S="3600")
    ing.start()
    garbage = [(f"ops/v1/devices/{noisy}/telemetry", b"not json %d" % i) for i in range(40)]
    m = service_publisher(stack.settings)
    try:
        publish_all(m, [*garbage, (f"ops/v1/devices/{quiet}/telemetry", b"{broken")])
    finally:
        m.close()
    counted = wait_until(lambda: ing.metric("ingest_dead_letters_dropped_total") or 0.0, lambda n: n >= 35)
    assert counted == 35.0
    assert len(settle(lambda: letters(db, f"ops/v1/devices/{noisy}/%"))) == 5
    assert len(letters(db, f"ops/v1/devices/{quiet}/%")) == 1  # another device is not capped by the noisy one
    assert ing.metric("ingest_dead_letters_total") == 6.0
    op = login("operator")
    r = client.get("/dead-letters/dropped", headers=op.headers, params={"device": noisy})
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["items"] == [{"device_id": noisy, "stored": 5, "dropped": 35, "windows_capped": 1,
                              "last_dropped_at": page["items"][0]["last_dropped_at"],
                              "last_dropped_reason": "parse_error"}]
    assert page["items"][0]["last_dropped_at"] is not None
    assert client.get("/dead-letters/dropped", headers=op.headers, params={"device": quiet}).json()["items"] == []
    leader = login("leader")
    assert client.get("/dead-letters/dropped", headers=leader.headers).status_code == 403
    assert ing.terminate() == 0


def test_retention_is_applied_by_the_beat_task_in_a_real_worker(stack, db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from celery import Celery

    assert celery_app.BEAT_SCHEDULE["dead-letters-retention"]["task"] == "ops_center.maintenance.prune_dead_letters"
    topic = f"ops/v1/devices/{uid('old')}/telemetry"
    now = datetime.now(UTC)
    for age_days in (400, 45, 31, 29, 1):
        db.execute("INSERT INTO dead_letters (received_at, topic, payload, payload_size, reason, detail) "
                   "VALUES (%s, %s, 'x', 1, 'parse_error', 'payload: x')", (now - timedelta(days=age_days), topic))
    log = open(tmp_path / "worker.log", "ab")  # noqa: SIM115 - owned by the process
    proc = subprocess.Popen(
        [str(REPO / ".venv/bin/ops-center"), "worker", "--concurrency", "1", "--loglevel", "INFO",
         "--hostname", f"retention-{os.getpid()}@localhost"],
        env={**stack.env, "OPS_DEAD_LETTER_RETENTION_DAYS": "30"}, cwd=REPO, stdout=log,
        stderr=subprocess.STDOUT, start_new_session=True)
    try:
        Celery(broker=stack.settings.redis_url).send_task("ops_center.maintenance.prune_dead_letters")
        left = wait_until(lambda: len(letters(db, topic)), lambda n: n == 2, timeout=120)
        assert left == 2, (tmp_path / "worker.log").read_text()[-3000:]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        log.close()
    ages = sorted((now - r[0]).days for r in db.execute("SELECT received_at FROM dead_letters WHERE topic = %s",
                                                         (topic,)).fetchall())
    assert ages == [1, 29]
