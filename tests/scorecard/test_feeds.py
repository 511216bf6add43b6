"""The index's inputs on their write paths: the new dossier fields (legacy channels kept valid), petitions,
documents, meeting sessions and unit facts — idempotency, conflicts, contradictory times, and malformed, hostile and
oversized input refused with the field and the value named and kept in dead letters (one row per message, listing every refused item)."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ops_center.db import Conn, fetch_all
from ops_center.dossiers import service as dossiers
from ops_center.dossiers.calendar import load_calendar
from ops_center.feeds import BatchTooLarge
from ops_center.petitions import service as petitions
from ops_center.readiness import exchange, facts

NOW = datetime(2025, 7, 15, 5, 0, tzinfo=UTC)
CAL = load_calendar()


def T(m: int, d: int, hh: int = 9) -> str:
    return f"2025-{m:02d}-{d:02d}T{hh:02d}:00:00+07:00"


@pytest.fixture
def tag(db: Conn) -> str:
    tag = secrets.token_hex(3)
    db.execute("INSERT INTO units (code, name, level) VALUES (%s, 'UBND xã Tân Thành', 'commune'), "
               "(%s, 'Sở Nội vụ', 'department')", (f"A-{tag}", f"B-{tag}"))
    db.execute("INSERT INTO procedures (code, name, processing_days, paper_result, full_online_eligible) "
               "VALUES (%s, 'Cấp giấy phép', 3, true, true)", (f"P-{tag}",))
    return tag


def dead(db: Conn, topic: str, mark: int) -> list[dict[str, Any]]:
    """The reasons of the letters written since ``mark`` (one letter per message, listing each refused item as
    ``[i].field``), one entry per reason with the item's field unprefixed."""
    out: list[dict[str, Any]] = []
    for row in fetch_all(db, "SELECT reasons, reason_count, payload_size FROM dead_letters WHERE topic = %s "
                             "AND id > %s ORDER BY id", (topic, mark)):
        assert row["reason_count"] == len(row["reasons"])
        for r in row["reasons"]:
            field = re.sub(r"^\[\d+\]\.?", "", r["field"] or "") or "event"
            out.append({"reason": r["reason"], "field": field, "value": r["value"], "detail": r["detail"],
                        "payload_size": row["payload_size"]})
    return out


def mark(db: Conn) -> int:
    row = db.execute("SELECT coalesce(max(id), 0) FROM dead_letters").fetchone()
    return int(row[0]) if row else 0


def test_dossier_index_fields(db: Conn, tag: str) -> None:
    did = f"HS-{tag}"
    rec = {"dossier_id": did, "type": "received", "at": T(6, 2), "channel": "online_l4", "procedure": f"P-{tag}",
           "unit": f"A-{tag}", "digitised": True, "fee_due": True}
    evs = [rec, {**rec, "channel": "online_full"},  # the legacy name and the new one are the same event
           {"dossier_id": did, "type": "supplement_requested", "at": T(6, 3)},
           {"dossier_id": did, "type": "supplement_requested", "at": T(6, 3)},  # duplicate
           {"dossier_id": did, "type": "supplement_received", "at": T(6, 4)},
           {"dossier_id": did, "type": "paid", "at": T(6, 2, 10)},
           {"dossier_id": did, "type": "synced", "at": T(6, 2, 11)},
           {"dossier_id": did, "type": "resolved", "at": T(6, 6), "electronic_result": True},
           {"dossier_id": did, "type": "rated", "at": T(6, 7), "rating": "satisfied"}]
    r = dossiers.ingest_events(db, evs, "http:/dossiers/events", calendar=CAL, now=NOW)
    assert (r.accepted, r.duplicates, r.rejected) == (7, 2, [])
    row = fetch_all(db, "SELECT channel, digitised, fee_due, outcome, electronic_result, paper_result, "
                        "full_online_eligible, end_on_time, due_date::text, late_day::text, "
                        "cardinality(supplement_requests) AS n FROM dossiers WHERE id = %s", (did,))[0]
    assert row == {"channel": "online_full", "digitised": True, "fee_due": True, "outcome": "granted",
                   "electronic_result": True, "paper_result": True, "full_online_eligible": True,
                   "end_on_time": True, "due_date": "2025-06-05", "late_day": "2025-06-07", "n": 1}
    m = mark(db)
    bad = [
        {**rec, "digitised": False},  # contradicts the first received event
        {"dossier_id": did, "type": "resolved", "at": T(6, 6), "outcome": "refused"},
        {"dossier_id": did, "type": "rated", "at": T(6, 8), "rating": "complaint"},
        {"dossier_id": did, "type": "paid", "at": T(6, 9)},
        {"dossier_id": did, "type": "supplement_requested", "at": T(6, 20)},  # after it ended
        {"dossier_id": did, "type": "synced", "at": T(5, 1)},
        {"dossier_id": did, "type": "rated", "at": T(6, 8), "rating": "meh"},
        {"dossier_id": did, "type": "resolved", "at": T(6, 6), "electronic_result": "yes"},
        {"dossier_id": did, "type": "received", "at": T(6, 2), "channel": "online_l5", "procedure": "X",
         "unit": "Y"},
        {"dossier_id": did, "type": "paid", "at": T(6, 9), "online": True},
    ]
    r = dossiers.ingest_events(db, bad, "http:/dossiers/events", calendar=CAL, now=NOW)
    assert [(i, reason) for i, reason, _ in r.rejected] == [
        (0, "conflict"), (1, "conflict"), (2, "conflict"), (3, "conflict"), (4, "inconsistent_time"),
        (5, "conflict"), (6, "bad_value"), (7, "bad_value"), (8, "bad_value"), (9, "bad_shape")]
    letters = dead(db, "http:/dossiers/events", m)
    assert [x["field"] for x in letters] == ["dossier_id", "at", "rating", "at", "at", "at", "rating",
                                             "electronic_result", "channel", "online"]
    assert letters[6]["value"] == "'meh'" and "'yes'" in letters[7]["detail"]


def test_supplements_are_capped(db: Conn, tag: str) -> None:
    did = f"HS-{tag}-S"
    evs = [{"dossier_id": did, "type": "received", "at": T(6, 2), "channel": "counter", "procedure": f"P-{tag}",
            "unit": f"A-{tag}"}]
    evs += [{"dossier_id": did, "type": "supplement_requested", "at": f"2025-06-03T{h:02d}:00:00+07:00"}
            for h in range(21)]
    r = dossiers.ingest_events(db, evs, "http:/dossiers/events", calendar=CAL, now=NOW)
    assert r.accepted == 21 and [x[1] for x in r.rejected] == ["too_many"]


def test_petitions(db: Conn, tag: str) -> None:
    src = "http:/petitions/events"
    pid = f"PAKN-{tag}"
    evs = [{"petition_id": pid, "type": "handled", "at": T(6, 20)},
           {"petition_id": pid, "type": "received", "at": T(6, 2), "unit": f"A-{tag}", "category": "staff"},
           {"petition_id": pid, "type": "received", "at": T(6, 2), "unit": f"A-{tag}", "category": "staff"},
           {"petition_id": pid, "type": "rated", "at": T(6, 21), "rating": "satisfied"}]
    r = petitions.ingest_events(db, evs, src, calendar=CAL, now=NOW)
    assert (r.accepted, r.duplicates, r.rejected) == (3, 1, [])
    got = fetch_all(db, "SELECT due_date::text, category FROM petitions WHERE id = %s", (pid,))
    assert got == [{"due_date": "2025-06-23", "category": "staff"}]
    m = mark(db)
    hostile = [
        {"petition_id": pid, "type": "handled", "at": T(6, 21)},  # conflict
        {"petition_id": f"Q-{tag}", "type": "received", "at": T(6, 2), "unit": "NO-SUCH"},
        {"petition_id": f"R-{tag}", "type": "received", "at": T(6, 2), "unit": f"A-{tag}", "category": "rude"},
        {"petition_id": "x\x00y", "type": "handled", "at": T(6, 2)},
        {"petition_id": "x" * 5000, "type": "handled", "at": T(6, 2)},
        {"petition_id": "ok", "type": "handled", "at": "2025-06-02T09:00:00"},
        {"petition_id": "ok", "type": "opened", "at": T(6, 2)},
        {"petition_id": "ok", "at": T(6, 2)},
        "not an object",
        {"petition_id": f"S-{tag}", "type": "rated", "at": T(6, 2), "rating": "satisfied", "note": "x"},
    ]
    r = petitions.ingest_events(db, hostile, src, calendar=CAL, now=NOW)
    assert [(i, reason) for i, reason, _ in r.rejected] == [
        (0, "conflict"), (1, "unknown_unit"), (2, "bad_value"), (3, "bad_value"), (4, "bad_value"),
        (5, "bad_timestamp"), (6, "bad_value"), (7, "missing_field"), (8, "bad_shape"), (9, "bad_shape")]
    letters = dead(db, src, m)
    assert [x["field"] for x in letters] == ["at", "unit", "category", "petition_id", "petition_id", "at", "type",
                                             "type", "event", "note"]
    assert letters[4]["payload_size"] > 5000
    with pytest.raises(BatchTooLarge):
        petitions.ingest_events(db, [{}] * 10_001, src, calendar=CAL)


def test_petition_topic_gives_the_unit(db: Conn, tag: str) -> None:
    topic = f"mqtt:ops/v1/egov/A-{tag}/petitions"
    r = petitions.ingest_events(db, [
        {"petition_id": f"M-{tag}", "type": "received", "at": T(6, 2)},
        {"petition_id": f"N-{tag}", "type": "received", "at": T(6, 2), "unit": f"B-{tag}"}], topic,
        calendar=CAL, now=NOW)
    assert r.accepted == 1 and [x[1] for x in r.rejected] == ["foreign_unit"]
    assert fetch_all(db, "SELECT unit_code FROM petitions WHERE id = %s", (f"M-{tag}",)) == [
        {"unit_code": f"A-{tag}"}]


def test_documents_fill_in_later_and_refuse_contradictions(db: Conn, tag: str) -> None:
    src = exchange.DOCUMENTS.http_source
    doc = {"id": f"VB-{tag}", "from_unit": f"B-{tag}", "to_unit": f"A-{tag}", "sent_at": T(6, 2)}
    r = exchange.ingest(db, exchange.DOCUMENTS, [doc, doc, {**doc, "received_at": T(6, 2, 11)}], src, now=NOW)
    assert (r.accepted, r.duplicates, r.rejected) == (2, 1, [])
    assert exchange.last_activity(db, "documents")[f"A-{tag}"].isoformat() == "2025-06-02T04:00:00+00:00"
    m = mark(db)
    r = exchange.ingest(db, exchange.DOCUMENTS, [
        {**doc, "received_at": T(6, 3)},  # conflict
        {**doc, "id": f"VB2-{tag}", "received_at": T(6, 1)},  # received before sent
        {**doc, "id": f"VB3-{tag}", "to_unit": "NO-SUCH"},
        {**doc, "id": f"VB4-{tag}", "via_axis": "true"},
        {**doc, "id": f"VB5-{tag}", "sent_at": "2099-01-01T00:00:00+07:00"},
        {"id": f"VB6-{tag}", "from_unit": f"B-{tag}", "sent_at": T(6, 2)},
    ], src, now=NOW)
    assert [x[1] for x in r.rejected] == ["conflict", "inconsistent_time", "unknown_unit", "bad_value",
                                         "bad_timestamp", "missing_field"]
    assert [x["field"] for x in dead(db, src, m)] == ["received_at", "received_at", "to_unit", "via_axis",
                                                      "sent_at", "to_unit"]
    r = exchange.ingest(db, exchange.DOCUMENTS, [{**doc, "id": f"VB7-{tag}"}],
                        f"mqtt:ops/v1/egov/C-{tag}/documents", now=NOW)
    assert [x[1] for x in r.rejected] == ["foreign_unit"]


def test_meetings(db: Conn, tag: str) -> None:
    src = exchange.MEETINGS.http_source
    m = mark(db)
    r = exchange.ingest(db, exchange.MEETINGS, [
        {"id": f"H-{tag}", "unit": f"A-{tag}", "started_at": T(6, 2), "title": "Giao ban tháng 6",
         "participants": 12},
        {"id": f"H-{tag}", "unit": f"A-{tag}", "started_at": T(6, 2), "ended_at": T(6, 2, 11)},
        {"id": f"H2-{tag}", "unit": f"A-{tag}", "started_at": T(6, 2), "title": "bad\x00title"},
        {"id": f"H3-{tag}", "unit": f"A-{tag}", "started_at": T(6, 2), "title": "x" * 501},
        {"id": f"H4-{tag}", "unit": f"A-{tag}", "started_at": T(6, 2), "participants": -1},
        {"id": f"H5-{tag}", "unit": f"A-{tag}", "started_at": T(6, 2), "ended_at": T(6, 1)},
    ], src, now=NOW)
    assert (r.accepted, [x[1] for x in r.rejected]) == (2, ["bad_value", "bad_value", "bad_value",
                                                            "inconsistent_time"])
    assert [x["field"] for x in dead(db, src, m)] == ["title", "title", "participants", "ended_at"]
    got = fetch_all(db, "SELECT title, participants, ended_at IS NOT NULL AS ended FROM meeting_sessions "
                        "WHERE id = %s", (f"H-{tag}",))
    assert got == [{"title": "Giao ban tháng 6", "participants": 12, "ended": True}]


def test_unit_facts(db: Conn, tag: str) -> None:
    a = f"A-{tag}"
    r = facts.ingest_facts(db, [{"unit": a, "fact": "iso_9001", "since": "2019-03-01"},
                                {"unit": a, "fact": "iso_9001", "since": "2019-03-01"},
                                {"unit": a, "fact": "iso_9001", "since": "2021-01-01", "value": False}])
    assert (r.accepted, r.duplicates, r.rejected) == (2, 1, [])
    assert facts.units_with(db, "iso_9001", datetime(2020, 1, 1).date()) >= {a}
    assert a not in facts.units_with(db, "iso_9001", datetime(2021, 1, 1).date())
    m = mark(db)
    r = facts.ingest_facts(db, [
        {"unit": a, "fact": "iso_9001", "since": "2019-03-01", "value": False},
        {"unit": a, "fact": "iso_14001", "since": "2019-03-01"},
        {"unit": a, "fact": "iso_9001", "since": "2019-02-30"},
        {"unit": "NO-SUCH", "fact": "iso_9001", "since": "2019-03-01"},
        {"unit": a, "fact": "iso_9001", "since": "2019-04-01", "note": "a\x00b"},
        {"unit": a, "fact": "iso_9001", "since": "2019-04-01", "value": 1},
    ])
    assert [x[1] for x in r.rejected] == ["conflict", "bad_value", "bad_value", "unknown_unit", "bad_value",
                                         "bad_value"]
    assert [x["field"] for x in dead(db, facts.HTTP_SOURCE, m)] == ["value", "fact", "since", "unit", "note",
                                                                     "value"]


def test_http_batches(client: TestClient, login, db: Conn, tag: str) -> None:  # type: ignore[no-untyped-def]
    h = login("integration").headers
    r = client.post("/petitions/events", headers=h, json={"events": [
        {"petition_id": f"H-{tag}", "type": "received", "at": T(6, 2), "unit": f"A-{tag}"}]})
    assert r.status_code == 200 and r.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
    m = mark(db)
    r = client.post("/egov/documents", headers={**h, "Content-Type": "application/json"}, content=b"{nope")
    assert r.status_code == 400
    r = client.post("/egov/meetings", headers=h, json={"meetings": []})
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    letters = fetch_all(db, "SELECT topic, reason, field FROM dead_letters WHERE id > %s ORDER BY id", (m,))
    assert letters == [{"topic": "http:/egov/documents", "reason": "parse_error", "field": "body"},
                       {"topic": "http:/egov/meetings", "reason": "bad_shape", "field": "body"}]
    r = client.post("/readiness/facts", headers=h, content=b"[" + b"{}," * 10_000 + b"{}]")
    assert r.status_code == 413
    r = client.post("/readiness/facts", headers={**h, "Content-Length": str(9 * 1024 * 1024)}, content=b"[]")
    assert r.status_code == 413
