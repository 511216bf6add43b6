"""``ops-center simulate`` end to end: the real command, our Mosquitto, a real ingest process, the session database
(with the Cà Mau boundary sets, so devices get their ward). Counts are exact: every reading the simulator says it
published is stored once, and every garbage message it sent is one dead letter with the reason it expects."""

from __future__ import annotations

import queue
import secrets
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import shapely

from geo.boundaries import load_boundaries
from ingest.simulator.anomalies import GARBAGE_REASONS
from ingest.simulator.physics import KIND_METRICS
from ingest.simulator.provision import FleetState
from ops_center.settings import Settings
from tests.devices.conftest import Mqtt
from tests.simulator.conftest import wait_for, wards_file

FAST = {"OPS_INGEST_REGISTRY_REFRESH_S": "1"}  # ingest reloads the registry every second; the simulator waits 2 s


def _prefix() -> str:
    return f"s{secrets.token_hex(3)}"


def _like(prefix: str) -> str:
    return prefix.replace("_", r"\_") + "-%"


def readings(db, prefix: str) -> int:  # type: ignore[no-untyped-def]
    return int(db.execute("SELECT count(*) FROM readings WHERE device_id LIKE %s", (_like(prefix),)).fetchone()[0])


def dead_letters(db, prefix: str) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    rows = db.execute("SELECT device_id, topic, reason, detail, field FROM dead_letters WHERE device_id LIKE %s "
                      "OR topic LIKE %s ORDER BY id", (_like(prefix), f"ops/v1/%/{prefix}-%")).fetchall()
    return [dict(zip(("device_id", "topic", "reason", "detail", "field"), r, strict=True)) for r in rows]


def exactly(db, prefix: str, want: int) -> None:  # type: ignore[no-untyped-def]
    wait_for(lambda: readings(db, prefix) >= want, f"{want} readings stored", 60)
    time.sleep(1.0)
    assert readings(db, prefix) == want


def retained_status(settings: Settings, ids: list[str], scope: str = "devices") -> dict[str, str]:
    """The retained status of each id, read with the service account."""
    m = Mqtt(settings, settings.mqtt_username, settings.mqtt_password.get_secret_value())
    assert not m.connect().is_failure
    try:
        assert not m.subscribe(f"ops/v1/{scope}/+/status")[0].is_failure
        seen: dict[str, str] = {}
        deadline = time.monotonic() + 10
        while set(ids) - set(seen) and time.monotonic() < deadline:
            try:
                msg = m.messages.get(timeout=0.2)
            except queue.Empty:
                continue
            who = msg.topic.split("/")[3]
            if who in ids and msg.retain:
                seen[who] = msg.payload.decode()
        return seen
    finally:
        m.close()


def test_a_small_fleet_end_to_end(stack, db, camau, ingest_factory, simulate, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    prefix = _prefix()
    ing = ingest_factory(**FAST)
    ing.start()
    state = tmp_path / "fleet.json"
    run = simulate("--devices", "20", "--interval", "1", "--duration", "10", "--prefix", prefix,
                   "--anomaly-rate", "0", "--anomaly-rate", "garbage=0.1", "--anomaly-rate", "salinity_spike=0.1",
                   "--anomaly-rate", "lamp_failure=0.1", "--anomaly-rate", "silence=0.02",
                   "--anomaly-duration-scale", "0.005", state=state, env=FAST)

    # while it runs: every device is online (retained) and data flows
    wait_for(lambda: readings(db, prefix) > 0, "first readings")
    ids = [r[0] for r in db.execute("SELECT id FROM devices WHERE id LIKE %s ORDER BY id", (_like(prefix),))]
    assert len(ids) == 20
    online = retained_status(stack.settings, ids)
    assert sorted(online) == ids and set(online.values()) <= {"online", "offline"}
    assert Counter(online.values())["online"] >= 18  # a silenced device may be off the broker just now

    summary = run.wait()
    assert summary["devices"] == 20 and summary["connections"] == 20 and summary["refused"] == 0
    assert summary["provisioned"]["created"] == 20 and summary["provisioned"]["ward_set"] == "camau-2025"

    # every published reading stored exactly once, from every device
    exactly(db, prefix, summary["readings"])
    per_device = dict(db.execute("SELECT device_id, count(*) FROM readings WHERE device_id LIKE %s "
                                 "GROUP BY device_id", (_like(prefix),)).fetchall())
    assert sorted(per_device) == ids

    # garbage, and nothing else, lands in dead letters, each with the reason its variant must produce
    sent = [a for a in run.anomalies() if a["type"] == "garbage"]
    assert len(sent) == sum(summary["garbage"].values()) > 0
    letters = wait_for(lambda: (lambda rows: rows if len(rows) >= len(sent) else None)(dead_letters(db, prefix)),
                       "dead letters")
    assert len(letters) == len(sent)
    assert Counter((d["device_id"], d["reason"]) for d in letters) == \
        Counter((a["device_id"], a["expected_reason"]) for a in sent)
    for d in letters:
        assert d["reason"] in GARBAGE_REASONS.values()
        assert d["detail"].startswith(d["field"] + ":"), d  # the reason names the field...
        if d["reason"] in ("out_of_range", "non_numeric"):
            assert "value" in d["detail"]  # ...and the value
    # the device events and statuses were accepted too (they added no dead letter)
    assert sum(summary["events"].values()) == len([a for a in run.anomalies() if a["type"] == "event"]) > 0

    # every device lies inside its ward polygon, and geo assigned that ward
    wards = load_boundaries(wards_file(stack.settings)).frame.set_index("code")
    rows = db.execute("SELECT id, kind, lon, lat, ward_set, ward_code, ward_status, metadata, expected_interval_s, "
                      "unit_code FROM devices WHERE id LIKE %s", (_like(prefix),)).fetchall()
    for device_id, kind, lon, lat, ward_set, ward_code, status, meta, interval, unit in rows:
        assert (ward_set, status) == ("camau-2025", "inside"), device_id
        assert wards.loc[ward_code, "geometry"].contains(shapely.Point(lon, lat)), device_id
        assert meta["ward_code_generated"] == ward_code and meta["simulated"] is True
        assert meta["metrics"] == list(KIND_METRICS[kind])
        assert interval >= 300 and unit.startswith("cm-")

    # after a clean stop every device said offline (retained) and ingest recorded it
    assert set(retained_status(stack.settings, ids).values()) == {"offline"}
    wait_for(lambda: db.execute("SELECT count(*) FROM device_status WHERE device_id LIKE %s AND state = 'offline'",
                                (_like(prefix),)).fetchone()[0] == 20, "offline recorded")

    # the secrets are the owner's only; a device's credentials cannot write another device's topic
    assert state.stat().st_mode & 0o777 == 0o600
    secrets_ = FleetState.load(state).secrets
    assert sorted(secrets_) == ids
    a, b = ids[0], ids[1]
    dev = Mqtt(stack.settings, a, secrets_[a])
    assert not dev.connect().is_failure
    try:
        assert dev.publish(f"ops/v1/devices/{b}/telemetry", b'{"ts": 1, "metrics": {"rain_mm": 1}}').value == 0x87
        assert dev.publish(f"ops/v1/devices/{b}/status", b"offline", retain=True).value == 0x87
        assert not dev.publish(f"ops/v1/devices/{a}/status", b"offline", retain=True).is_failure
    finally:
        dev.close()
    ing.terminate()


def test_rerun_reuses_the_fleet_and_rotates_lost_secrets(stack, db, ingest_factory, simulate,  # type: ignore[no-untyped-def]
                                                         tmp_path: Path) -> None:
    prefix = _prefix()
    ing = ingest_factory(**FAST)
    ing.start()
    state = tmp_path / "fleet.json"
    args = ("--devices", "8", "--interval", "1", "--duration", "2", "--prefix", prefix, "--anomaly-rate", "0")

    def hashes() -> dict[str, str]:
        return dict(db.execute("SELECT username, password_hash FROM mqtt_accounts WHERE username LIKE %s",
                               (_like(prefix),)).fetchall())

    first = simulate(*args, state=state, env=FAST).wait()
    assert first["provisioned"]["created"] == 8 and first["connects"] == 8
    before = hashes()
    again = simulate(*args, state=state, env=FAST).wait()
    assert again["provisioned"] == {**again["provisioned"], "created": 0, "updated": 0, "credentials_rotated": 0,
                                    "credentials_reused": 8}
    assert again["connects"] == 8 and hashes() == before
    # secrets lost and another seed: the same devices move (updated in place, nothing duplicated), their secrets
    # are rotated and recorded, and they connect with the new ones
    state.unlink()
    moved = simulate(*args, "--seed", "7", state=state, env=FAST).wait()
    assert moved["provisioned"]["created"] == 0 and moved["provisioned"]["updated"] == 8
    assert moved["provisioned"]["credentials_rotated"] == 8 and moved["connects"] == 8
    assert all(hashes()[k] != v for k, v in before.items())
    assert sorted(FleetState.load(state).secrets) == sorted(before)
    assert db.execute("SELECT count(*) FROM devices WHERE id LIKE %s", (_like(prefix),)).fetchone()[0] == 8
    exactly(db, prefix, first["readings"] + again["readings"] + moved["readings"])
    ing.terminate()


def test_rate_mode_stores_every_reading_once(stack, db, ingest_factory, simulate) -> None:  # type: ignore[no-untyped-def]
    prefix = _prefix()
    ing = ingest_factory(**FAST)
    ing.start()
    summary = simulate("--devices", "10", "--rate", "400", "--duration", "4", "--prefix", prefix,
                       "--anomaly-rate", "0", env=FAST).wait()
    assert summary["mode"] == "rate" and summary["telemetry_messages"] > 800
    exactly(db, prefix, summary["readings"])
    assert dead_letters(db, prefix) == []
    ing.terminate()


def test_gateway_mode_sends_senml_packs(stack, db, ingest_factory, simulate) -> None:  # type: ignore[no-untyped-def]
    prefix = _prefix()
    ing = ingest_factory(**FAST)
    ing.start()
    run = simulate("--devices", "12", "--gateway", "--per-gateway", "6", "--pack", "10", "--rate", "40",
                   "--duration", "4", "--prefix", prefix, "--anomaly-rate", "0", "--anomaly-rate", "garbage=0.05",
                   env=FAST)
    summary = run.wait()
    assert summary["mode"] == "gateway rate" and summary["gateways"] == 2 and summary["connections"] == 2
    assert summary["readings"] == 10 * summary["telemetry_messages"]
    exactly(db, prefix, summary["readings"])
    behind = dict(db.execute("SELECT id, gateway_id FROM devices WHERE id LIKE %s", (_like(prefix),)).fetchall())
    assert len(behind) == 12 and set(behind.values()) == {f"{prefix}-gw-01", f"{prefix}-gw-02"}
    sent = [a for a in run.anomalies() if a["type"] == "garbage"]
    letters = wait_for(lambda: (lambda r: r if len(r) >= len(sent) else None)(dead_letters(db, prefix)),
                       "dead letters")
    assert Counter(d["reason"] for d in letters) == Counter(a["expected_reason"] for a in sent)
    assert all(d["topic"].startswith(f"ops/v1/gateways/{prefix}-gw-") for d in letters)
    assert set(retained_status(stack.settings, [f"{prefix}-gw-01", f"{prefix}-gw-02"], "gateways").values()) \
        == {"offline"}
    ing.terminate()


def test_a_silenced_device_drops_off_and_comes_back(stack, db, ingest_factory, simulate) -> None:  # type: ignore[no-untyped-def]
    prefix = _prefix()
    ing = ingest_factory(**FAST)
    ing.start()
    run = simulate("--devices", "7", "--interval", "0.5", "--duration", "8", "--prefix", prefix,
                   "--anomaly-rate", "0", "--anomaly-rate", "silence=0.2", "--anomaly-duration-scale", "0.004",
                   "--seed", "11", env=FAST)
    summary = run.wait()
    dropped = [a for a in run.anomalies() if a["type"] == "anomaly" and a.get("drop_connection")]
    if not dropped:
        pytest.fail(f"no silence with a dropped connection in this run: {summary['anomalies']}")
    device = dropped[0]["device_id"]
    # the last will said offline, then the device came back online, then the clean stop said offline
    states = [r[0] for r in db.execute("SELECT payload->>'state' FROM events WHERE topic = 'device_status' "
                                       "AND subject = %s ORDER BY id", (device,)).fetchall()]
    assert states[:3] == ["online", "offline", "online"], states
    assert summary["connects"] > 7 and summary["skipped"]["silent"] >= 1  # reconnected after the silence
    exactly(db, prefix, summary["readings"])
    ing.terminate()
