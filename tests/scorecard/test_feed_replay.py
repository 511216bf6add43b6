"""Replaying the dead letters of petitions, documents, meetings and unit facts after the cause was fixed — the
mechanism of the dossiers' replay, through ``POST /egov/dead-letters/replay`` and ``ops-center egov
replay-dead-letters``: still refused until the unit exists (saying why, writing no new letter), then applied once;
a letter of one feed is never replayed as another's; MQTT letters keep their topic's unit."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.cli import main
from ops_center import feed_replay
from ops_center.db import Conn
from ops_center.dossiers.calendar import load_calendar
from ops_center.petitions import service as petitions
from ops_center.readiness import exchange, facts

CAL = load_calendar()


def T(d: int, hh: int = 9) -> str:
    return f"2025-06-{d:02d}T{hh:02d}:00:00+07:00"


def _letters(db: Conn, topic: str, value: str) -> list[int]:
    return [int(r[0]) for r in db.execute("SELECT id FROM dead_letters WHERE topic = %s AND value = %s ORDER BY id",
                                          (topic, repr(value))).fetchall()]


def _unit(db: Conn, code: str) -> None:
    db.execute("INSERT INTO units (code, name, level) VALUES (%s, 'UBND xã Khánh Bình Tây Bắc', 'commune')", (code,))


Write = Callable[[Conn, str, str], Any]
CASES: dict[str, tuple[str, Write, str]] = {
    # feed: (HTTP source, write one item naming the missing unit, the table the item lands in)
    "petitions": ("http:/petitions/events", lambda db, unit, tag: petitions.ingest_events(
        db, [{"petition_id": f"PAKN-{tag}", "type": "received", "at": T(2), "unit": unit, "category": "staff"},
             {"petition_id": f"PAKN-{tag}", "type": "handled", "at": T(4)}],
        "http:/petitions/events", calendar=CAL), "petitions"),
    "documents": ("http:/egov/documents", lambda db, unit, tag: exchange.ingest(
        db, exchange.DOCUMENTS, [{"id": f"VB-{tag}", "from_unit": unit, "to_unit": unit, "sent_at": T(3),
                                  "via_axis": True}], "http:/egov/documents"), "documents"),
    "meetings": ("http:/egov/meetings", lambda db, unit, tag: exchange.ingest(
        db, exchange.MEETINGS, [{"id": f"HOP-{tag}", "unit": unit, "started_at": T(5), "title": "Giao ban quý"}],
        "http:/egov/meetings"), "meeting_sessions"),
    "facts": ("http:/readiness/facts", lambda db, unit, tag: facts.ingest_facts(
        db, [{"unit": unit, "fact": "iso_9001", "since": "2025-06-01"}]), "unit_facts"),
}


@pytest.mark.parametrize("feed", sorted(CASES))
def test_a_feed_replays_after_its_unit_exists(client: TestClient, admin, db: Conn, feed: str) -> None:  # type: ignore[no-untyped-def]
    topic, write, table = CASES[feed]
    tag = secrets.token_hex(4)
    unit = f"NEW-{tag}"
    result = write(db, unit, tag)
    assert [r[1] for r in result.rejected] == ["unknown_unit"] * len(result.rejected) and result.rejected
    (letter,) = _letters(db, topic, unit)
    other = next(f for f in sorted(CASES) if f != feed)
    r = client.post("/egov/dead-letters/replay", json={"feed": other, "ids": [letter]}, headers=admin.headers)
    assert r.status_code == 200 and r.json()["replayed"] == 0  # not that feed's letter
    still = client.post("/egov/dead-letters/replay", json={"feed": feed, "ids": [letter]}, headers=admin.headers)
    body = still.json()
    assert (body["feed"], body["replayed"], body["failed"]) == (feed, 1, 1), body
    assert body["items"][0]["result"].startswith("still rejected: unknown_unit")
    assert _letters(db, topic, unit) == [letter]  # a replay writes no new dead letter
    _unit(db, unit)
    fixed = client.post("/egov/dead-letters/replay", json={"feed": feed, "ids": [letter]}, headers=admin.headers)
    assert (fixed.json()["ok"], fixed.json()["failed"]) == (1, 0), fixed.json()
    column = {"petitions": "unit_code", "documents": "from_unit", "meeting_sessions": "unit_code",
              "unit_facts": "unit_code"}[table]
    assert db.execute(f"SELECT count(*) FROM {table} WHERE {column} = %s", (unit,)).fetchone() == (1,)
    row = db.execute("SELECT replay_ok, replay_result FROM dead_letters WHERE id = %s", (letter,)).fetchone()
    assert row is not None and row[0] is True and row[1].startswith("ok:")
    again = client.post("/egov/dead-letters/replay", json={"feed": feed}, headers=admin.headers).json()
    assert letter not in [i["id"] for i in again["items"]]  # fixed letters are not replayed twice
    audit = db.execute("SELECT target, status FROM audit_log WHERE actor = %s AND action = %s ORDER BY id DESC "
                       "LIMIT 1", (admin.username, "POST /egov/dead-letters/replay")).fetchone()
    assert audit == (f"{feed}:dead-letters", 200)


def test_mqtt_letters_keep_their_topics_unit_and_the_cli_replays_them(db: Conn,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    tag = secrets.token_hex(4)
    unit = f"MQ-{tag}"
    topic = f"ops/v1/egov/{unit}/meetings"
    items = [{"id": f"HOP-{tag}-1", "unit": unit, "started_at": T(9)},
             {"id": f"HOP-{tag}-2", "started_at": T(10), "unit": "SOMEONE-ELSE"}]  # foreign to the topic
    r = exchange.ingest(db, exchange.MEETINGS, items, f"mqtt:{topic}")
    assert sorted(x[1] for x in r.rejected) == ["foreign_unit", "unknown_unit"]
    (letter,) = [int(x[0]) for x in db.execute("SELECT id FROM dead_letters WHERE topic = %s", (topic,)).fetchall()]
    _unit(db, unit)
    assert main(["egov", "replay-dead-letters", "meetings", "--id", str(letter)]) == 2  # one still foreign
    out = capsys.readouterr().out
    assert f"{letter}: FAILED still rejected: foreign_unit: [1]" in out and "0 fixed, 1 still refused" in out
    assert db.execute("SELECT count(*) FROM meeting_sessions WHERE id = %s", (f"HOP-{tag}-1",)).fetchone() == (1,)
    result = feed_replay.replay(db, "meetings", ids=[letter])
    assert (result.replayed, result.failed) == (1, 1)  # the stored one is a duplicate now; the foreign one stays
    db.execute("UPDATE dead_letters SET payload = %s, payload_size = %s WHERE id = %s", (b"[{", 2, letter))
    broken = feed_replay.replay(db, "meetings", ids=[letter])
    assert broken.results[0][2] == "not replayable: the stored payload is not JSON"


def test_bad_requests_are_refused(client: TestClient, admin) -> None:  # type: ignore[no-untyped-def]
    for body in ({"feed": "dossiers"}, {"feed": "facts\x00"}, {"feed": "facts", "ids": [0]},
                 {"feed": "facts", "limit": 10_001}, {"feed": "facts", "extra": 1}, {"ids": [1]},
                 {"feed": "facts", "ids": [2**63]}, {"feed": "facts", "ids": list(range(1, 10_002))}):
        r = client.post("/egov/dead-letters/replay", json=body, headers=admin.headers)
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json"), body
    with pytest.raises(ValueError, match="feed: 'nope' is not one of"):
        feed_replay.replay(None, "nope")  # type: ignore[arg-type]
