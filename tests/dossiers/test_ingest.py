"""ingest_events: acceptance, due dates, idempotency, out-of-order events, conflicts, dead letters with reasons,
MQTT topics, the live-feed event, the rollup kept equal to a rebuild, overdue/at-risk derived from dates."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest

from ops_center.db import Conn, fetch_all
from ops_center.dossiers import rollup
from ops_center.dossiers import service as svc
from ops_center.dossiers.calendar import load_calendar, parse_calendar
from ops_center.dossiers.rollup import COUNTERS, DossierState
from ops_center.feeds import MAX_BATCH, BatchTooLarge
from tests.dossiers.conftest import Catalog, t

NOW = datetime(2025, 7, 15, 5, 0, tzinfo=UTC)  # 12:00 in Cà Mau
CAL = load_calendar()


def ingest(db: Conn, events: list[Any], source: str = "http:/dossiers/events", now: datetime = NOW
           ) -> svc.IngestResult:
    return svc.ingest_events(db, events, source, calendar=CAL, now=now)


def received(cat: Catalog, n: int | str, at: str, channel: str = "online_l4", proc: str | None = None,
             **extra: Any) -> dict[str, Any]:
    return {"dossier_id": cat.did(n), "type": "received", "at": at, "channel": channel,
            "procedure": proc or cat.post_proc, "unit": cat.unit, **extra}


def state(db: Conn, did: str) -> dict[str, Any]:
    rows = fetch_all(db, "SELECT * FROM dossiers WHERE id = %s", (did,))
    assert rows, did
    return rows[0]


def rollup_rows(db: Conn, unit: str) -> dict[tuple[Any, ...], list[int]]:
    rows = db.execute(f"SELECT day, unit_code, ward_set, ward_code, {', '.join(COUNTERS)} FROM dossier_daily "
                      "WHERE unit_code = %s", (unit,)).fetchall()
    return {tuple(r[:4]): list(r[4:]) for r in rows if any(r[4:])}


def expected_rollup(db: Conn, unit: str) -> dict[tuple[Any, ...], list[int]]:
    """What a rebuild from the dossiers table gives for this unit."""
    deltas = rollup.Deltas()
    cols = ", ".join(DossierState.__slots__)  # type: ignore[attr-defined]
    for row in fetch_all(db, f"SELECT {cols} FROM dossiers WHERE unit_code = %s", (unit,)):
        deltas.add(None, DossierState.from_row(row))
    return {k: v for k, v in deltas.nonzero()}


def dead(db: Conn, source: str, since_id: int) -> list[dict[str, Any]]:
    return fetch_all(db, "SELECT id, topic, payload, payload_size, reason, detail, field, value, reasons, "
                         "reason_count FROM dead_letters WHERE topic = %s AND id > %s ORDER BY id", (source, since_id))


def last_dead_id(db: Conn) -> int:
    row = db.execute("SELECT coalesce(max(id), 0) FROM dead_letters").fetchone()
    return int(row[0]) if row else 0


def test_received_resolved_returned(db: Conn, cat: Catalog) -> None:
    r = ingest(db, [
        received(cat, 1, t(2025, 1, 24, 10), "postal"),
        {"dossier_id": cat.did(1), "type": "resolved", "at": t(2025, 2, 4, 15)},
        {"dossier_id": cat.did(1), "type": "returned", "at": t(2025, 2, 5, 9), "channel": "postal"},
    ])
    assert (r.accepted, r.duplicates, r.rejected) == (3, 0, [])
    s = state(db, cat.did(1))
    assert s["due_date"] == date(2025, 2, 4)  # 2 business days after Friday 24/01/2025, across Tết
    assert s["ward_code"] == cat.ward  # the unit's ward
    in_force = db.execute("SELECT name FROM boundary_sets WHERE family = 'admin' AND valid_from <= '2025-01-24' "
                          "AND (valid_to IS NULL OR valid_to >= '2025-01-24')").fetchone()
    assert s["ward_set"] == (in_force[0] if in_force else "")  # the set in force on the received date
    assert s["offered_by_post"] is True and s["processing_days"] == 2
    assert rollup_rows(db, cat.unit) == expected_rollup(db, cat.unit)
    got = rollup_rows(db, cat.unit)
    day = {k[0]: v for k, v in got.items()}
    i = rollup.IDX
    assert day[date(2025, 1, 24)][i["received_postal"]] == 1 and day[date(2025, 1, 24)][i["received_post_offered"]] == 1
    assert day[date(2025, 2, 4)][i["resolved"]] == 1 and day[date(2025, 2, 4)][i["resolved_on_time"]] == 1
    assert day[date(2025, 2, 5)][i["returned_postal"]] == 1


def test_same_batch_twice_is_all_duplicates(db: Conn, cat: Catalog) -> None:
    batch = [received(cat, 2, t(2025, 3, 3)), {"dossier_id": cat.did(2), "type": "resolved", "at": t(2025, 3, 4)}]
    assert ingest(db, batch).accepted == 2
    before = rollup_rows(db, cat.unit)
    again = ingest(db, batch)
    assert (again.accepted, again.duplicates, again.rejected) == (0, 2, [])
    inside = ingest(db, [received(cat, 3, t(2025, 3, 3)), received(cat, 3, t(2025, 3, 3))])
    assert (inside.accepted, inside.duplicates) == (1, 1)
    assert rollup_rows(db, cat.unit) == expected_rollup(db, cat.unit)
    assert before != rollup_rows(db, cat.unit)


def test_out_of_order_events_give_the_same_result(db: Conn, cat: Catalog) -> None:
    ev = [received(cat, "a", t(2025, 3, 3), "counter", cat.plain_proc),
          {"dossier_id": cat.did("a"), "type": "resolved", "at": t(2025, 3, 12)},
          {"dossier_id": cat.did("a"), "type": "returned", "at": t(2025, 3, 13), "channel": "counter"}]
    # the same story for dossier b, told backwards over three batches
    ev_b = [dict(e, dossier_id=cat.did("b")) for e in ev]
    assert ingest(db, ev).accepted == 3
    for e in reversed(ev_b):
        assert ingest(db, [e]).accepted == 1
    a, b = state(db, cat.did("a")), state(db, cat.did("b"))
    for key in ("received_at", "resolved_at", "returned_at", "due_date", "channel", "return_channel", "unit_code"):
        assert a[key] == b[key], key
    assert a["due_date"] == date(2025, 3, 10)  # 5 business days after Monday 03/03
    rows = rollup_rows(db, cat.unit)
    assert rows == expected_rollup(db, cat.unit)
    late = {k[0]: v for k, v in rows.items()}[date(2025, 3, 12)]
    assert late[rollup.IDX["resolved"]] == 2 and late[rollup.IDX["resolved_on_time"]] == 0
    assert late[rollup.IDX["overdue_out"]] == 2


def test_conflicts_and_contradictions_are_refused_and_kept(db: Conn, cat: Catalog) -> None:
    mark = last_dead_id(db)
    ingest(db, [received(cat, 5, t(2025, 4, 1)), {"dossier_id": cat.did(5), "type": "resolved",
                                                   "at": t(2025, 4, 2)}])
    r = ingest(db, [
        received(cat, 5, t(2025, 4, 1), channel="counter"),  # contradicts the stored received event
        {"dossier_id": cat.did(5), "type": "resolved", "at": t(2025, 4, 3)},  # resolved twice, differently
        {"dossier_id": cat.did(5), "type": "returned", "at": t(2025, 4, 1, 8), "channel": "postal"},  # before
        {"dossier_id": cat.did(6), "type": "resolved", "at": t(2025, 4, 1)},
        received(cat, 6, t(2025, 4, 2)),  # received after it was resolved
    ])
    assert r.accepted == 1 and r.duplicates == 0
    assert [(i, reason) for i, reason, _ in r.rejected] == [
        (0, "conflict"), (1, "conflict"), (2, "inconsistent_time"), (4, "inconsistent_time")]
    assert "the first one stands" in r.rejected[0][2]
    [row] = dead(db, "http:/dossiers/events", mark)  # one letter for the batch, listing every refused event
    assert [x["reason"] for x in row["reasons"]] == ["conflict", "conflict", "inconsistent_time", "inconsistent_time"]
    assert row["reason_count"] == 4 and row["reason"] == "conflict"
    kept = json.loads(bytes(row["payload"]))  # the refused events themselves, in order
    assert len(kept) == 4 and kept[0]["channel"] == "counter"
    assert row["reasons"][2]["field"] == "[2].at" and row["reasons"][3]["field"] == "[4].at"
    assert rollup_rows(db, cat.unit) == expected_rollup(db, cat.unit)
    # dossier 6 was resolved, never validly received: it is pending and not in the KPIs
    assert state(db, cat.did(6))["received_at"] is None


HOSTILE: list[tuple[Any, str, str]] = [
    ("not an object", "bad_shape", "event"),
    ([1, 2, 3], "bad_shape", "event"),
    ({"dossier_id": "x"}, "missing_field", "type"),
    ({"type": "opened", "dossier_id": "x", "at": "2025-01-01T00:00:00+07:00"}, "bad_value", "type"),
    ({"type": "resolved", "dossier_id": "x"}, "missing_field", "at"),
    ({"type": "resolved", "dossier_id": "x'; DROP TABLE dossiers; --", "at": "2025-01-01T00:00:00+07:00"},
     "bad_value", "dossier_id"),
    ({"type": "resolved", "dossier_id": "x" * 5000, "at": "2025-01-01T00:00:00+07:00"}, "bad_value", "dossier_id"),
    ({"type": "resolved", "dossier_id": 12345, "at": "2025-01-01T00:00:00+07:00"}, "bad_value", "dossier_id"),
    ({"type": "resolved", "dossier_id": "x", "at": "2025-01-01T00:00:00"}, "bad_timestamp", "at"),
    ({"type": "resolved", "dossier_id": "x", "at": 1735689600}, "bad_timestamp", "at"),
    ({"type": "resolved", "dossier_id": "x", "at": "yesterday"}, "bad_timestamp", "at"),
    ({"type": "resolved", "dossier_id": "x", "at": "2099-01-01T00:00:00+07:00"}, "bad_timestamp", "at"),
    ({"type": "resolved", "dossier_id": "x", "at": "1999-01-01T00:00:00+07:00"}, "bad_timestamp", "at"),
    ({"type": "resolved", "dossier_id": "x", "at": "2025-01-01T00:00:00+07:00", "chanel": "postal"},
     "bad_shape", "chanel"),
    ({"type": "resolved", "dossier_id": "x", "at": "2025-01-01T00:00:00+07:00",
      "unit": {"a": {"b": {"c": {"d": [[[[[[1]]]]]]}}}}}, "bad_value", "unit"),
    ({"type": "returned", "dossier_id": "x", "at": "2025-01-01T00:00:00+07:00", "channel": "online_l4"},
     "bad_value", "channel"),
]


@pytest.mark.parametrize(("raw", "reason", "field"), HOSTILE, ids=[f"{h[1]}-{h[2]}-{i}" for i, h in enumerate(HOSTILE)])
def test_malformed_and_hostile_events_land_in_dead_letters(db: Conn, raw: Any, reason: str, field: str) -> None:
    mark = last_dead_id(db)
    r = ingest(db, [raw])
    assert r.accepted == 0 and len(r.rejected) == 1
    i, got_reason, detail = r.rejected[0]
    assert (i, got_reason) == (0, reason)
    assert detail.startswith(field) or field in detail
    rows = dead(db, "http:/dossiers/events", mark)
    want_field = "[0]" if field == "event" else f"[0].{field}"  # the field names the event in its message
    assert len(rows) == 1 and rows[0]["reason"] == reason and rows[0]["field"] == want_field
    assert rows[0]["payload_size"] >= len(bytes(rows[0]["payload"]))
    assert db.execute("SELECT to_regclass('dossiers') IS NOT NULL").fetchone() == (True,)


def test_unknown_references_and_bad_channels(db: Conn, cat: Catalog) -> None:
    r = ingest(db, [
        received(cat, 10, t(2025, 5, 5), proc="NO-SUCH-PROC"),
        dict(received(cat, 11, t(2025, 5, 5)), unit="NO-SUCH-UNIT"),
        received(cat, 12, t(2025, 5, 5), channel="fax"),
        received(cat, 13, t(2025, 5, 5)),
    ])
    assert r.accepted == 1
    assert [(i, reason) for i, reason, _ in r.rejected] == [
        (0, "unknown_procedure"), (1, "unknown_unit"), (2, "bad_value")]
    assert "'NO-SUCH-PROC'" in r.rejected[0][2] and "'fax'" in r.rejected[2][2]
    # nothing half-written for the refused ones
    assert db.execute("SELECT count(*) FROM dossiers WHERE id = ANY(%s)",
                      ([cat.did(10), cat.did(11), cat.did(12)],)).fetchone() == (0,)


def test_oversized_batch_is_refused_whole(db: Conn) -> None:
    with pytest.raises(BatchTooLarge, match="at most 10000"):  # the e-government feeds' one limit
        ingest(db, [{}] * (MAX_BATCH + 1))


@pytest.mark.parametrize("prefix", ["", "mqtt:"])
def test_mqtt_topic_gives_the_unit_and_refuses_another(db: Conn, cat: Catalog, prefix: str) -> None:
    topic = f"ops/v1/egov/{cat.unit}/dossiers"
    mark = last_dead_id(db)
    ev = {"dossier_id": cat.did(20), "type": "received", "at": t(2025, 5, 6), "channel": "counter",
          "procedure": cat.post_proc}
    other = dict(ev, dossier_id=cat.did(21), unit=cat.unit2)
    r = ingest(db, [ev, other], source=prefix + topic)
    assert r.accepted == 1 and [x[1] for x in r.rejected] == ["foreign_unit"]
    assert state(db, cat.did(20))["unit_code"] == cat.unit
    assert [x["reason"] for x in dead(db, topic, mark)] == ["foreign_unit"]
    # another unit's topic may not resolve this unit's dossier
    r = ingest(db, [{"dossier_id": cat.did(20), "type": "resolved", "at": t(2025, 5, 7)}],
               source=f"{prefix}ops/v1/egov/{cat.unit2}/dossiers")
    assert [x[1] for x in r.rejected] == ["foreign_unit"]


def test_one_live_event_per_batch(db: Conn, cat: Catalog) -> None:
    before = db.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0]  # type: ignore[index]
    ingest(db, [received(cat, n, t(2025, 5, 8)) for n in range(30, 60)] + ["junk"])
    rows = db.execute("SELECT topic, payload FROM events WHERE id > %s AND topic = 'dossier'", (before,)).fetchall()
    assert len(rows) == 1
    payload = rows[0][1]
    assert payload["accepted"] == 30 and payload["rejected"] == 1 and payload["by_type"] == {"received": 30}
    assert cat.unit in payload["units"]


def test_status_overdue_and_at_risk_come_from_dates(db: Conn, cat: Catalog) -> None:
    ingest(db, [received(cat, 70, t(2025, 7, 1), proc=cat.plain_proc),  # due 08/07 → overdue on 15/07
                received(cat, 71, t(2025, 7, 14), proc=cat.post_proc),  # due 16/07 → at risk on 15/07
                received(cat, 72, t(2025, 7, 14), proc=cat.plain_proc)])  # due 21/07 → open
    got = {d["id"]: d["status"] for d in svc.list_dossiers(db, CAL, unit=cat.unit, now=NOW, limit=500)}
    assert got[cat.did(70)] == "overdue" and got[cat.did(71)] == "at_risk" and got[cat.did(72)] == "open"
    overdue = {d["id"] for d in svc.list_dossiers(db, CAL, state="overdue", unit=cat.unit, now=NOW)}
    at_risk = {d["id"] for d in svc.list_dossiers(db, CAL, state="at_risk", unit=cat.unit, now=NOW)}
    assert cat.did(70) in overdue and cat.did(71) not in overdue
    assert at_risk == {cat.did(71)}
    later = datetime(2025, 7, 25, 5, tzinfo=UTC)
    assert svc.get_dossier(db, cat.did(72), CAL, later)["status"] == "overdue"  # type: ignore[index]
    assert svc.get_dossier(db, cat.did(999), CAL) is None


def test_recompute_due_dates_after_a_calendar_change(db: Conn, cat: Catalog) -> None:
    ingest(db, [dict(received(cat, 80, t(2025, 7, 7), proc=cat.plain_proc), unit=cat.unit2)])
    assert state(db, cat.did(80))["due_date"] == date(2025, 7, 14)
    extra = parse_calendar("country: VN\nyears:\n  2025:\n    days_off:\n      - {date: 2025-07-09, name: Bão}\n")
    assert svc.recompute_due_dates(db, extra) >= 1
    assert state(db, cat.did(80))["due_date"] == date(2025, 7, 15)
    assert rollup_rows(db, cat.unit2) == expected_rollup(db, cat.unit2)
    svc.recompute_due_dates(db, CAL)  # put the shared database back
    assert state(db, cat.did(80))["due_date"] == date(2025, 7, 14)
