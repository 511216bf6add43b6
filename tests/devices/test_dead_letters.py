"""Dead letters through the real API: listing and filters for operators, and replay after a fix for admins (the
stored payload decoded again by the ingest decoder, good readings stored, each letter marked with the outcome)."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from ops_center.db import Conn
from ops_center.readings import ReadingsStore
from ops_center.settings import Settings
from tests.devices.conftest import assert_problem, uid


def letter(db: Conn, topic: str, payload: bytes, reason: str, *, device_id: str | None = None,
           field: str | None = None, value: str | None = None, detail: str | None = None,
           received_at: datetime | None = None, payload_size: int | None = None) -> int:
    """A dead letter as ingest writes it."""
    row = db.execute(
        "INSERT INTO dead_letters (received_at, topic, payload, payload_size, device_id, reason, detail, field, value)"
        " VALUES (coalesce(%s, now()), %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (received_at, topic, payload, payload_size if payload_size is not None else len(payload), device_id, reason,
         detail or f"{field or 'payload'}: {reason}", field, value),
    ).fetchone()
    return int(row[0])


def telemetry(metrics: dict[str, Any], ts: float | None = None) -> bytes:
    return orjson.dumps({"ts": ts if ts is not None else time.time() - 60, "metrics": metrics})


def stored(db: Conn, device_id: str) -> dict[str, float]:
    """The device's readings in the store, by metric."""
    store = ReadingsStore.for_connection(db)
    end = datetime.now(UTC) + timedelta(minutes=10)
    out: dict[str, float] = {}
    for metric in ("salinity_ppt", "water_temperature_c", "nitrate_mg_l", "rain_mm"):
        for reading in store.range(db, device_id, metric, end - timedelta(days=1), end):
            out[metric] = reading.value
    return out


def replay(client: TestClient, who: Any, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post("/dead-letters/replay", headers=who.headers, json=body)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def state(db: Conn, letter_id: int) -> tuple[Any, ...]:
    return db.execute("SELECT replayed_at IS NOT NULL, replay_ok, replay_result FROM dead_letters WHERE id = %s",
                      (letter_id,)).fetchone()


# ---------------------------------------------------------------------------------------------------------- listing


def test_list_filters_pagination_and_raw_payload(client: TestClient, op, leader, db) -> None:  # type: ignore[no-untyped-def]
    d1, d2 = uid("dl"), uid("dl")
    now = datetime.now(UTC)
    raw = b"\xff\xfe{\"ts\": bad \xc3\x28 " + "Cà Mau".encode()
    a = letter(db, f"ops/v1/devices/{d1}/telemetry", raw, "not_utf8", device_id=d1, field="payload",
               received_at=now - timedelta(hours=2))
    b = letter(db, f"ops/v1/devices/{d1}/telemetry", telemetry({"salinity_ppt": 75.2}), "out_of_range",
               device_id=d1, field="metrics.salinity_ppt", value="75.2", received_at=now - timedelta(hours=1))
    c = letter(db, f"ops/v1/devices/{d2}/status", b"maybe", "bad_shape", device_id=d2, received_at=now)
    t = letter(db, f"ops/v1/devices/{d2}/telemetry", b"x" * 64, "payload_too_large", device_id=d2,
               payload_size=200_000, received_at=now)

    def ids(**params: Any) -> list[int]:
        r = client.get("/dead-letters", headers=op.headers, params=params)
        assert r.status_code == 200, r.text
        return [item["id"] for item in r.json()["items"]]

    assert ids(device=d1) == [b, a]  # newest first
    assert ids(device=d1, reason="out_of_range") == [b]
    assert ids(topic_prefix=f"ops/v1/devices/{d2}/") == [t, c]
    assert ids(topic_prefix=f"ops/v1/devices/{d2}/st") == [c]
    assert ids(device=d1, since=(now - timedelta(minutes=90)).isoformat()) == [b]
    assert ids(device=d1, until=(now - timedelta(minutes=90)).isoformat()) == [a]
    assert ids(device=d1, replayed=False) == [b, a] and ids(device=d1, replayed=True) == []
    assert ids(topic_prefix="ops/v1/devices/%") == []  # a wildcard is a literal character here

    items = {i["id"]: i for i in client.get("/dead-letters", headers=op.headers,
                                            params={"topic_prefix": f"ops/v1/devices/{d1}/"}).json()["items"]}
    shown = items[a]
    assert base64.b64decode(shown["payload_base64"]) == raw
    assert shown["payload_text"] == raw.decode("utf-8", "replace") and "\ufffd" in shown["payload_text"]
    assert "Cà Mau" in shown["payload_text"]
    assert (shown["payload_size"], shown["payload_stored"], shown["truncated"]) == (len(raw), len(raw), False)
    assert items[b]["field"] == "metrics.salinity_ppt" and items[b]["value"] == "75.2"
    one = client.get(f"/dead-letters/{t}", headers=op.headers).json()
    assert (one["payload_size"], one["payload_stored"], one["truncated"]) == (200_000, 64, True)

    walked: list[int] = []
    cursor = None
    for _ in range(10):
        params: dict[str, Any] = {"device": d1, "limit": 1, **({"cursor": cursor} if cursor else {})}
        page = client.get("/dead-letters", headers=op.headers, params=params).json()
        walked += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert walked == [b, a]

    assert_problem(client.get("/dead-letters", headers=leader.headers), 403, "leader")
    assert_problem(client.get("/dead-letters/999999999999", headers=op.headers), 404, "999999999999")


@pytest.mark.parametrize(("params", "fragments"), [
    ({"reason": "x'; DROP TABLE dead_letters;--"}, ("reason",)),
    ({"reason": "A" * 100}, ("reason",)),
    ({"since": "2025-07-01T00:00:00"}, ("since", "UTC offset")),
    ({"since": "yesterday"}, ("since", "yesterday")),
    ({"since": "2025-07-02T00:00:00Z", "until": "2025-07-01T00:00:00Z"}, ("since", "after until")),
    ({"topic_prefix": "t" * 600}, ("topic_prefix",)),
    ({"device": "nul\x00"}, ("query.device", "NUL")),  # refused before the route: named as sent
    ({"limit": 0}, ("limit",)),
    ({"replayed": "sometimes"}, ("replayed", "sometimes")),
])
def test_list_refuses_bad_filters(client: TestClient, op, params, fragments) -> None:  # type: ignore[no-untyped-def]
    assert_problem(client.get("/dead-letters", headers=op.headers, params=params), 422, *fragments)


def test_list_refuses_foreign_cursor(client: TestClient, op) -> None:  # type: ignore[no-untyped-def]
    assert_problem(client.get("/dead-letters", headers=op.headers, params={"cursor": "bm90LWEtY3Vyc29y"}), 400,
                   "cursor")
    from ops_center.pagination import encode_cursor
    assert_problem(client.get("/dead-letters", headers=op.headers, params={"cursor": encode_cursor({"id": "x"})}),
                   400, "cursor")


# ----------------------------------------------------------------------------------------------------------- replay


def test_replay_after_the_device_is_enabled(client: TestClient, admin, op, db, new_device) -> None:  # type: ignore[no-untyped-def]
    d = new_device()
    client.post(f"/devices/{d['id']}/disable", headers=admin.headers)
    payload = telemetry({"salinity_ppt": 5.5, "water_temperature_c": 29.1})
    lid = letter(db, f"ops/v1/devices/{d['id']}/telemetry", payload, "disabled_device", device_id=d["id"],
                 field="topic", detail=f"topic: device {d['id']!r} is disabled")

    assert_problem(client.post("/dead-letters/replay", headers=op.headers, json={"ids": [lid]}), 403, "operator")

    out = replay(client, admin, {"ids": [lid]})  # the cause is still there
    assert (out["replayed"], out["ok"], out["failed"], out["stored"]) == (1, 0, 1, 0)
    assert "disabled_device" in out["items"][0]["result"] and d["id"] in out["items"][0]["result"]
    assert state(db, lid)[:2] == (True, False) and stored(db, d["id"]) == {}

    client.post(f"/devices/{d['id']}/enable", headers=admin.headers)
    out = replay(client, admin, {"filter": {"device": d["id"]}})
    assert (out["replayed"], out["ok"], out["failed"], out["readings"], out["stored"], out["remaining"]) == \
        (1, 1, 0, 2, 2, 0)
    assert state(db, lid)[:2] == (True, True) and state(db, lid)[2].startswith("ok: 2 reading(s) decoded, 2 new")
    assert stored(db, d["id"]) == {"salinity_ppt": 5.5, "water_temperature_c": 29.1}
    seen = db.execute("SELECT last_seen FROM devices WHERE id = %s", (d["id"],)).fetchone()[0]
    assert seen is not None

    again = replay(client, admin, {"ids": [lid]})  # done already: skipped, nothing written twice
    assert (again["replayed"], again["skipped"], again["stored"]) == (0, 1, 0)
    assert replay(client, admin, {"filter": {"device": d["id"]}})["replayed"] == 0
    rows = db.execute("SELECT count(*) FROM readings WHERE device_id = %s", (d["id"],)).fetchone()[0]
    assert rows == 2
    listed = client.get("/dead-letters", headers=op.headers, params={"device": d["id"], "replay_ok": True}).json()
    assert [i["id"] for i in listed["items"]] == [lid] and listed["items"][0]["replay_ok"] is True


def test_replay_after_the_device_is_registered(client: TestClient, admin, db) -> None:  # type: ignore[no-untyped-def]
    device_id = uid("late")
    now = time.time()
    pack = orjson.dumps([{"bn": f"{device_id}:", "bt": now - 120, "n": "rain_mm", "v": 12.5},
                         {"n": "rain_mm", "t": 60, "v": 3.0}])
    lid = letter(db, f"ops/v1/devices/{device_id}/telemetry", pack, "unknown_device", device_id=device_id,
                 field="topic")
    r = client.post("/devices", headers=admin.headers, json={"id": device_id, "kind": "rain", "name": "Trạm mưa U Minh"})
    assert r.status_code == 201
    out = replay(client, admin, {"ids": [lid]})
    assert (out["ok"], out["readings"], out["stored"]) == (1, 2, 2), out
    assert db.execute("SELECT count(*) FROM readings WHERE device_id = %s", (device_id,)).fetchone()[0] == 2


def test_replay_part_of_a_message_after_the_catalogue_is_extended(client: TestClient, admin, db, new_device,  # type: ignore[no-untyped-def]
                                                                  settings: Settings, tmp_path: Path) -> None:
    d = new_device()
    payload = telemetry({"salinity_ppt": 7.25, "nitrate_mg_l": 3.5})
    lid = letter(db, f"ops/v1/devices/{d['id']}/telemetry", payload, "unknown_metric", device_id=d["id"],
                 field="metrics.nitrate_mg_l", value="'nitrate_mg_l'")
    out = replay(client, admin, {"ids": [lid]})  # the part is still unknown; the good part is stored anyway
    assert (out["ok"], out["failed"], out["readings"], out["stored"]) == (0, 1, 1, 1)
    assert "unknown_metric" in out["items"][0]["result"] and "nitrate_mg_l" in out["items"][0]["result"]
    assert stored(db, d["id"]) == {"salinity_ppt": 7.25}

    catalogue = tmp_path / "metrics.yaml"
    catalogue.write_text("metrics:\n  nitrate_mg_l: {unit: mg/l, min: 0, max: 100, description: Nitrate}\n")
    from api.app import create_app
    with TestClient(create_app(settings.model_copy(update={"ingest_catalogue_file": catalogue}))) as fixed:
        out = replay(fixed, admin, {"ids": [lid]})
    assert (out["ok"], out["readings"], out["stored"]) == (1, 2, 1), out  # salinity was stored already
    assert stored(db, d["id"]) == {"salinity_ppt": 7.25, "nitrate_mg_l": 3.5}
    assert state(db, lid)[1] is True


def test_replay_keeps_old_messages_judged_by_their_arrival_time(client: TestClient, admin, db,  # type: ignore[no-untyped-def]
                                                                new_device) -> None:
    d = new_device()
    arrived = datetime.now(UTC) - timedelta(days=30)  # far older than the age limit today, fresh when it arrived
    payload = telemetry({"salinity_ppt": 1.5}, ts=arrived.timestamp() - 10)
    lid = letter(db, f"ops/v1/devices/{d['id']}/telemetry", payload, "unknown_device", device_id=d["id"],
                 field="topic", received_at=arrived)
    out = replay(client, admin, {"ids": [lid]})
    assert (out["ok"], out["stored"]) == (1, 1), out


def test_replay_what_cannot_be_replayed(client: TestClient, admin, db, new_device) -> None:  # type: ignore[no-untyped-def]
    d = new_device()
    cut = letter(db, f"ops/v1/devices/{d['id']}/telemetry", b'{"ts": 1, "metr', "payload_too_large",
                 device_id=d["id"], payload_size=1_000_000)
    garbage = letter(db, f"ops/v1/devices/{d['id']}/telemetry", b"\x00\x01garbage", "parse_error",
                     device_id=d["id"])
    bad_topic = letter(db, "ops/v1/devices/x'; DROP TABLE readings;--/telemetry", b"{}", "bad_topic")
    out = replay(client, admin, {"ids": [cut, garbage, bad_topic, 987654321987]})
    items = {i["id"]: i for i in out["items"]}
    assert "not replayable" in items[cut]["result"] and "1000000" in items[cut]["result"]
    assert items[garbage]["ok"] is False and "still rejected" in items[garbage]["result"]
    assert items[bad_topic]["ok"] is False and "bad_device_id" in items[bad_topic]["result"]
    assert items[987654321987]["skipped"] is True and "no such dead letter" in items[987654321987]["result"]
    assert (out["replayed"], out["failed"], out["skipped"], out["stored"]) == (3, 3, 1, 0)
    assert db.execute("SELECT to_regclass('readings')").fetchone()[0] == "readings"


@pytest.mark.parametrize(("body", "fragments"), [
    ({}, ("exactly one",)),
    ({"ids": [1], "filter": {}}, ("exactly one",)),
    ({"ids": []}, ("ids",)),
    ({"ids": ["1; DROP TABLE dead_letters"]}, ("ids.0",)),
    ({"ids": [-1]}, ("ids.0",)),
    ({"ids": [2**70]}, ("ids.0",)),
    ({"ids": list(range(1, 1002))}, ("ids",)),
    ({"ids": [1], "limit": 5000}, ("limit",)),
    ({"filter": {"reason": "'; DELETE FROM readings;--"}}, ("filter.reason",)),
    ({"filter": {"since": "2025-01-01T00:00:00"}}, ("since", "UTC offset")),
    ({"filter": {"everything": True}}, ("filter.everything",)),
    ({"ids": [1], "force": True}, ("force",)),
    ({"ids": {"a": {"b": {"c": [1]}}}}, ("ids",)),
])
def test_replay_refuses_bad_bodies(client: TestClient, admin, body, fragments) -> None:  # type: ignore[no-untyped-def]
    assert_problem(client.post("/dead-letters/replay", headers=admin.headers, json=body), 422, *fragments)


def test_replay_a_letter_listing_several_parts(client: TestClient, admin, db, new_device,  # type: ignore[no-untyped-def]
                                               settings: Settings, tmp_path: Path) -> None:
    """One letter per message lists every rejected part; it is fixed when none of them is rejected any more."""
    d = new_device()
    payload = telemetry({"salinity_ppt": 7.5, "nitrate_mg_l": 3.5, "rain_mm": 9999.0})
    row = db.execute(
        "INSERT INTO dead_letters (topic, payload, payload_size, device_id, reason, detail, field, value, reasons, "
        "reason_count, reason_codes) VALUES (%s, %s, %s, %s, 'unknown_metric', 'x', 'metrics.nitrate_mg_l', "
        "'''nitrate_mg_l''', %s::jsonb, 2, '{unknown_metric,out_of_range}') RETURNING id",
        (f"ops/v1/devices/{d['id']}/telemetry", payload, len(payload), d["id"], orjson.dumps([
            {"reason": "unknown_metric", "detail": "x", "field": "metrics.nitrate_mg_l", "value": None},
            {"reason": "out_of_range", "detail": "y", "field": "metrics.rain_mm", "value": "9999.0"}]).decode()),
    ).fetchone()
    lid = int(row[0])
    catalogue = tmp_path / "metrics.yaml"
    catalogue.write_text("metrics:\n  nitrate_mg_l: {unit: mg/l, min: 0, max: 100, description: Nitrate}\n")
    from api.app import create_app
    with TestClient(create_app(settings.model_copy(update={"ingest_catalogue_file": catalogue}))) as fixed:
        out = replay(fixed, admin, {"ids": [lid]})  # nitrate is known now; rain is still out of range
        assert (out["ok"], out["stored"]) == (0, 2), out
        assert "out_of_range" in out["items"][0]["result"] and "rain_mm" in out["items"][0]["result"]
        catalogue.write_text("metrics:\n  nitrate_mg_l: {unit: mg/l, min: 0, max: 100, description: Nitrate}\n"
                             "  rain_mm: {max: 10000}\n")
    with TestClient(create_app(settings.model_copy(update={"ingest_catalogue_file": catalogue}))) as fixed:
        out = replay(fixed, admin, {"ids": [lid]})
    assert (out["ok"], out["stored"]) == (1, 1), out
    assert stored(db, d["id"]) == {"salinity_ppt": 7.5, "nitrate_mg_l": 3.5, "rain_mm": 9999.0}
