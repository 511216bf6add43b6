"""The e-government feeds over MQTT end to end: a unit's system, with its own broker account, publishes petitions,
documents and meeting sessions on its topics; a real ingest process stores them (idempotent on redelivery) and
dead-letters what is refused, with the topic."""

from __future__ import annotations

import secrets
import time
from typing import Any

import orjson
from fastapi.testclient import TestClient

from ops_center.db import Conn, fetch_all
from tests.devices.conftest import Mqtt, eventually, mqtt_client

__all__ = ["mqtt_client"]


def _wait(db: Conn, sql: str, params: tuple[Any, ...], want: int, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    while True:
        row = db.execute(sql, params).fetchone()
        n = int(row[0]) if row else 0
        if n >= want or time.monotonic() > deadline:
            return n
        time.sleep(0.2)


def test_unit_feeds_over_mqtt(ingest_factory, client: TestClient, admin, db: Conn, mqtt_client) -> None:  # type: ignore[no-untyped-def]
    tag = secrets.token_hex(3)
    unit, peer = f"MQ-{tag}", f"MQP-{tag}"
    db.execute("INSERT INTO units (code, name, level) VALUES (%s, 'UBND xã Khánh Bình', 'commune'), "
               "(%s, 'Sở Nội vụ', 'department')", (unit, peer))
    creds = client.post(f"/egov/units/{unit}/mqtt-credentials", headers=admin.headers).json()
    ingest = ingest_factory()
    ingest.start()

    def attempt() -> Mqtt | None:
        m = mqtt_client(creds["username"], creds["password"])
        return m if not m.connect().is_failure else None

    m: Mqtt = eventually(attempt, "the unit's account connects")
    base = f"ops/v1/egov/{unit}"
    petitions = [{"petition_id": f"PK-{tag}-{i}", "type": "received", "at": "2025-06-02T09:00:00+07:00"}
                 for i in range(3)]
    documents = [{"id": f"VB-{tag}", "from_unit": peer, "to_unit": unit, "sent_at": "2025-06-02T09:00:00+07:00"}]
    meetings = [{"id": f"HOP-{tag}", "started_at": "2025-06-02T14:00:00+07:00", "participants": 9}]
    for topic, body in ((f"{base}/petitions", petitions), (f"{base}/documents", documents),
                        (f"{base}/meetings", meetings), (f"{base}/petitions", petitions)):  # redelivered
        assert int(m.publish(topic, orjson.dumps(body)).value) == 0
    assert int(m.publish(f"{base}/meetings", b"{not json").value) == 0
    bad = [{"petition_id": f"PK-{tag}-x", "type": "received", "at": "2025-06-02T09:00:00+07:00", "unit": peer}]
    assert int(m.publish(f"{base}/petitions", orjson.dumps(bad)).value) == 0
    assert _wait(db, "SELECT count(*) FROM petitions WHERE id LIKE %s AND unit_code = %s", (f"PK-{tag}-%", unit),
                 3) == 3
    assert _wait(db, "SELECT count(*) FROM meeting_sessions WHERE id = %s AND unit_code = %s",
                 (f"HOP-{tag}", unit), 1) == 1
    assert _wait(db, "SELECT count(*) FROM documents WHERE id = %s", (f"VB-{tag}",), 1) == 1
    assert _wait(db, "SELECT count(*) FROM dead_letters WHERE topic LIKE %s", (f"{base}/%",), 2) == 2
    letters = fetch_all(db, "SELECT topic, reason, field FROM dead_letters WHERE topic LIKE %s ORDER BY topic",
                        (f"{base}/%",))
    assert letters == [{"topic": f"{base}/meetings", "reason": "parse_error", "field": "payload"},
                       {"topic": f"{base}/petitions", "reason": "foreign_unit", "field": "[0].unit"}]
    assert db.execute("SELECT count(*) FROM petitions WHERE id LIKE %s", (f"PK-{tag}-%",)).fetchone() == (3,)
    assert ingest.terminate() == 0
