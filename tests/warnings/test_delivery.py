"""Published warnings pushed to webhook subscribers through the notification outbox by a real Celery worker: each
subscriber whose wards the message covers gets each message exactly once — a receiver that failed first gets it on
the retry with the same idempotency key, a subscriber of other wards gets nothing — and what arrives is the signed
document byte for byte as the public feed serves it."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from fastapi.testclient import TestClient

from alerts.notify import deliver as delivery
from alerts.notify import outbox
from alerts.warnings.signing import verify
from ops_center.db import Conn, fetch_all
from tests.alerts.receivers import WebhookReceiver, webhook_receiver
from tests.alerts.test_notify import FAST, worker
from tests.warnings.conftest import RealWard, approve_and_publish, fire_alert, publish_flow, uid


def _until(what: str, check: Callable[[], bool], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def subscribe(client: TestClient, people: dict[str, Any]) -> Iterator[Callable[..., int]]:
    """``subscribe(receiver, wards)`` → a webhook channel and its subscription; both removed afterwards."""
    admin = people["admin"]
    made: list[tuple[int, int]] = []

    def make(rec: WebhookReceiver, wards: list[str] | None) -> int:
        name = uid("cap-hook")
        r = client.post("/notify-channels", json={"name": name, "type": "webhook", "config": {"url": rec.url}},
                        headers=admin.headers)
        assert r.status_code == 201, r.text
        s = client.post("/warning-subscriptions", json={"channel": name, "wards": wards}, headers=admin.headers)
        assert s.status_code == 201, s.text
        made.append((r.json()["id"], s.json()["id"]))
        return int(r.json()["id"])

    yield make
    for channel_id, sub_id in made:
        client.delete(f"/warning-subscriptions/{sub_id}", headers=admin.headers)
        client.delete(f"/notify-channels/{channel_id}", headers=admin.headers)


def test_each_subscriber_gets_each_message_exactly_once(stack: Any, settings: Any, client: TestClient,
                                                        people: dict[str, Any], conn: Conn, ward: RealWard,
                                                        real_wards: list[RealWard],
                                                        subscribe: Callable[..., int]) -> None:
    other = next(w for w in real_wards if w.code != ward.code)
    op, leader = people["operator"], people["leader"]
    with ExitStack() as stack_:
        everything = stack_.enter_context(webhook_receiver())
        mine = stack_.enter_context(webhook_receiver())
        flaky = stack_.enter_context(webhook_receiver(script=[503]))
        elsewhere = stack_.enter_context(webhook_receiver())
        stack_.enter_context(worker(stack, uid("w-cap")))
        subscribe(everything, None)
        subscribe(mine, [ward.code, other.code])
        subscribe(flaky, [ward.code])
        subscribe(elsewhere, [other.code])
        w = publish_flow(client, op, leader, {"alerts": [fire_alert(conn, ward=ward.code, value=5.1)["id"]]})
        r = client.post(f"/warnings/{w['id']}/update", json={"values": {"value": 7.6}}, headers=op.headers)
        assert r.status_code == 201, r.text
        w = approve_and_publish(client, r.json(), op, people["leader2"])
        for rec in (everything, mine, flaky):
            _until("both messages", lambda rec=rec: len(rec.delivered) == 2)  # type: ignore[misc]
        time.sleep(1.0)  # anything stray would have arrived by now
    published = [m for m in w["messages"] if m["status"] == "published"]
    cert = client.get("/cap/certificate.pem").content
    for rec in (everything, mine, flaky):
        assert sorted(rec.delivered) == sorted(
            outbox.cap_idempotency_key(m["id"], ch) for m in published
            for ch in {int(k.split("-")[2]) for k in rec.delivered})
        for body in rec.delivered.values():
            verify(body, cert)  # the signed document, untouched on the way
        identifiers = {r["headers"]["x-cap-identifier"] for r in rec.requests}
        assert identifiers == {m["identifier"] for m in published}
        assert all(r["headers"]["content-type"].startswith("application/cap+xml") for r in rec.requests)
    assert len(everything.requests) == 2 and len(mine.requests) == 2
    keys = Counter(r["key"] for r in flaky.requests)  # the refused first request retried with the same key
    assert len(flaky.requests) == 3 and keys[flaky.requests[0]["key"]] == 2 and sorted(keys.values()) == [1, 2]
    assert elsewhere.requests == []
    first = published[0]
    public = client.get(f"/cap/messages/{first['identifier']}.xml").content
    assert everything.delivered[next(k for k in everything.delivered if k.startswith(f"cap-{first['id']}-"))] == public
    rows = fetch_all(conn, "SELECT id, channel_id, status FROM notification_outbox "
                           "WHERE warning_message_id = ANY(%s)", ([m["id"] for m in published],))
    conn.commit()
    assert len(rows) == 6 and {r["status"] for r in rows} == {"delivered"}
    # writing the rows again adds none; a delivered row is never sent again
    try:
        assert outbox.enqueue_cap(conn, first["id"], [r["channel_id"] for r in rows], {"xml": ""}) == []
    finally:
        conn.rollback()
    assert delivery.deliver(settings.database_url, rows[0]["id"], cfg=FAST).outcome == "skipped"
    detail = client.get(f"/warnings/{w['id']}", headers=op.headers).json()
    assert len(detail["deliveries"]) == 6 and "delivery_queued" in [e["kind"] for e in detail["events"]]
