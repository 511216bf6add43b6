"""The live feed over a real socket: uvicorn in a subprocess, events emitted in the real database."""

from __future__ import annotations

import json
import socket
import time

import pytest
from websockets.exceptions import ConnectionClosed

from ops_center.auth.tokens import issue_token
from tests.live.conftest import (
    emit_now,
    event_items,
    has_event,
    recv_json,
    recv_until,
    subscribe,
    tag,
    ws_connect,
)


def closed_code(ws, timeout: float = 10.0) -> int:  # type: ignore[no-untyped-def]
    """Read until the server closes; the close code."""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ws.recv(timeout=deadline - time.monotonic())
    except ConnectionClosed as exc:
        assert exc.rcvd is not None
        return exc.rcvd.code
    raise AssertionError("server did not close")


@pytest.mark.parametrize("token", [None, "", "not-a-jwt", "eyJhbGciOiJub25lIn0.e30."])
def test_bad_token_closes_4401(live_server, token) -> None:  # type: ignore[no-untyped-def]
    with ws_connect(live_server, token) as ws:
        assert closed_code(ws) == 4401


def test_expired_and_foreign_tokens_close_4401(live_server, settings) -> None:  # type: ignore[no-untyped-def]
    old, _ = issue_token(settings.jwt_secret.get_secret_value(), "op", "operator", 60, now=time.time() - 3600)
    forged, _ = issue_token("another-secret-that-is-long-enough-for-hs256", "op", "admin", 600)
    for token in (old, forged):
        with ws_connect(live_server, token) as ws:
            assert closed_code(ws) == 4401


def test_integration_role_is_refused_4403(live_server, login) -> None:  # type: ignore[no-untyped-def]
    with ws_connect(live_server, login("integration").token) as ws:
        assert closed_code(ws) == 4403


def test_subscribed_client_gets_alert_and_incident_events(live_server, login, db) -> None:  # type: ignore[no-untyped-def]
    t = tag()
    with ws_connect(live_server, login("operator").token) as ws:
        hello = recv_json(ws)
        assert hello["type"] == "hello" and hello["close_codes"]["slow"] == 4408
        ack = subscribe(ws, ["alerts", "incident"])
        assert ack == {"type": "subscribed", "topics": ["alert", "incident"], "devices": 0, "wards": 0}
        emit_now(db, "dossier", {"tag": t})  # not subscribed: never delivered
        a = emit_now(db, "alert", {"id": 1, "summary": f"Mặn vượt ngưỡng {t}", "severity": "critical"},
                     subject="alert:1", ward_code="32014")
        i = emit_now(db, "incident", {"id": 2, "title": f"Sạt lở bờ kè {t}"})
        seen: list[dict] = []
        recv_until(ws, has_event(lambda e: e["id"] == i), seen=seen)
        items = [e for m in seen for e in event_items(m)]
        ids = [e["id"] for e in items]
        assert ids.index(a) < ids.index(i)
        alert = next(e for e in items if e["id"] == a)
        assert alert["topic"] == "alert" and alert["ward_code"] == "32014"
        assert alert["payload"]["summary"] == f"Mặn vượt ngưỡng {t}"  # diacritics intact end to end
        assert not any(e["topic"] == "dossier" for e in items)


def test_device_filter_narrows_device_status_and_telemetry(live_server, login, db) -> None:  # type: ignore[no-untyped-def]
    t = tag()
    mine, other = f"gauge-{t}", f"other-{t}"
    with ws_connect(live_server, login("leader").token) as ws:
        subscribe(ws, ["device_status", "telemetry", "alert"], devices=[mine])
        emit_now(db, "device_status", {"device_id": other, "state": "offline"}, subject=other)
        emit_now(db, "telemetry", {"readings": [[other, "water_level_cm", time.time(), 10.0],
                                                [mine, "water_level_cm", time.time(), 42.5]]})
        mine_status = emit_now(db, "device_status", {"device_id": mine, "state": "online"}, subject=mine)
        seen: list[dict] = []
        recv_until(ws, has_event(lambda e: e["id"] == mine_status), seen=seen)
        items = [e for m in seen for e in event_items(m)]
        subjects = {e["subject"] for e in items}
        assert other not in subjects
        tele = [e for e in items if e["topic"] == "telemetry"]
        assert tele and tele[0]["payload"]["device_id"] == mine
        assert tele[0]["payload"]["values"]["water_level_cm"][1] == 42.5


def test_telemetry_is_coalesced_per_device(live_server, login, db) -> None:  # type: ignore[no-untyped-def]
    """Forty readings of one device emitted back to back reach the screen as a few merged updates, the newest
    value of each metric last."""
    dev = f"fast-{tag()}"
    with ws_connect(live_server, login("operator").token) as ws:
        subscribe(ws, ["telemetry"], devices=[dev])
        now = time.time()
        for k in range(40):
            emit_now(db, "telemetry", {"readings": [[dev, "salinity_ppt", now + k, float(k)]]})
        emit_now(db, "telemetry", {"readings": [[dev, "water_level_cm", now + 40, 99.0]]})
        seen: list[dict] = []
        last = recv_until(ws, has_event(lambda e: e["payload"]["values"].get("salinity_ppt", [0, -1])[1] == 39.0
                                        and "water_level_cm" in e["payload"]["values"]), seen=seen)
        updates = [e for m in seen for e in event_items(m)]
        assert len(updates) < 41
        final = event_items(last)[-1]["payload"]["values"]
        assert final["water_level_cm"][1] == 99.0


def test_reconnect_with_last_event_id_catches_up(live_server, login, db) -> None:  # type: ignore[no-untyped-def]
    t = tag()
    token = login("operator").token
    with ws_connect(live_server, token) as ws:
        subscribe(ws, ["alert"])
        first = emit_now(db, "alert", {"n": 0, "tag": t})
        recv_until(ws, has_event(lambda e: e["id"] == first))
    missed = [emit_now(db, "alert", {"n": n, "tag": t}) for n in range(1, 6)]
    emit_now(db, "incident", {"tag": t})  # not subscribed
    with ws_connect(live_server, token) as ws:
        subscribe(ws, ["alert"], last_event_id=first)
        seen: list[dict] = []
        done = recv_until(ws, lambda m: m.get("type") == "caught_up", seen=seen)
        got = [e["id"] for m in seen for e in event_items(m)]
        assert got == missed and done["count"] == 5
        live_one = emit_now(db, "alert", {"n": 6, "tag": t})
        recv_until(ws, has_event(lambda e: e["id"] == live_one))


def test_catch_up_too_far_back_or_ahead_says_reload(live_server, login, db) -> None:  # type: ignore[no-untyped-def]
    token = login("operator").token
    newest = emit_now(db, "system", {"ping": True})
    with ws_connect(live_server, token) as ws:
        subscribe(ws, ["system"], last_event_id=newest + 10_000_000)
        msg = recv_until(ws, lambda m: m.get("type") in ("reload", "caught_up"))
        assert msg["type"] == "reload" and "ahead" in msg["reason"]
    db.execute("UPDATE events SET at = at - interval '2 hours' WHERE id = %s", (newest,))
    with ws_connect(live_server, token) as ws:
        subscribe(ws, ["system"], last_event_id=newest - 1)
        msg = recv_until(ws, lambda m: m.get("type") in ("reload", "caught_up"))
        assert msg["type"] == "reload" and "older" in msg["reason"]


@pytest.mark.parametrize("message, field", [
    ("not json", "message: not valid JSON"),
    ("[1, 2]", "message: must be a JSON object"),
    ('{"type": "drop table"}', "type: must be 'subscribe', 'ping' or 'auth', got 'drop table'"),
    ('{"type": "auth", "token": "not-a-jwt"}', "token invalid"),
    ('{"type": "subscribe", "topics": ["alert\'; DROP TABLE events; --"]}', "topics"),
    ('{"type": "subscribe", "topics": "alert"}', "topics"),
    ('{"type": "subscribe", "topics": ["alert"], "devices": ["../../etc/passwd"]}', "devices.0"),
    ('{"type": "subscribe", "topics": ["alert"], "last_event_id": -1}', "last_event_id"),
    ('{"type": "subscribe", "topics": ["alert"], "last_event_id": "12"}', "last_event_id"),
    ('{"type": "subscribe", "topics": ["alert"], "extra": {"a": 1}}', "extra"),
    ('{"type": "subscribe", "topics": []}', "topics"),
    ('{"type": "subscribe", "topics": ["alert"], "wards": ' + json.dumps(["w"] * 501) + "}", "wards"),
    ('{"type": "subscribe", "topics": [' + "[" * 5000 + "]" * 5000 + "]}", "message"),
])
def test_bad_messages_get_an_error_naming_the_field(live_server, login, message, field) -> None:  # type: ignore[no-untyped-def]
    with ws_connect(live_server, login("operator").token) as ws:
        recv_json(ws)
        ws.send(message)
        err = recv_until(ws, lambda m: m.get("type") == "error")
        assert field in err["detail"]
        ws.send(json.dumps({"type": "ping", "t": 7}))  # the socket survives a bad message
        assert recv_until(ws, lambda m: m.get("type") == "pong")["t"] == 7


def test_binary_oversized_and_repeated_garbage(live_server, login) -> None:  # type: ignore[no-untyped-def]
    token = login("operator").token
    with ws_connect(live_server, token) as ws:
        recv_json(ws)
        ws.send(b"\x00\x01")
        assert "binary" in recv_until(ws, lambda m: m.get("type") == "error")["detail"]
        ws.send(json.dumps({"type": "subscribe", "topics": ["alert"], "pad": "x" * 70_000}))
        assert closed_code(ws) == 1009
    with ws_connect(live_server, token) as ws:
        for _ in range(25):
            ws.send("{")
        assert closed_code(ws) == 1008


def _masked_text_frame(body: bytes) -> bytes:
    """One client → server text frame (RFC 6455 §5.2: masked, 7- or 16-bit length)."""
    import os

    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(body))
    assert len(body) < 65536
    head = bytes([0x81, 0x80 | len(body)]) if len(body) < 126 else bytes([0x81, 0x80 | 126]) + len(body).to_bytes(2)
    return head + mask + masked


def _raw_ws_that_never_reads(port: int, token: str, topics: list[str]) -> socket.socket:
    """A WebSocket client that subscribes and then never reads: its receive buffer fills, TCP pushes back."""
    import base64
    import os

    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /ws/live HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    assert b" 101 " in head.split(b"\r\n", 1)[0], head
    s.sendall(_masked_text_frame(json.dumps({"type": "auth", "token": token}).encode()))
    s.sendall(_masked_text_frame(json.dumps({"type": "subscribe", "topics": topics}).encode()))
    return s


def test_slow_client_is_dropped_and_others_keep_receiving(server_factory, login, db, settings) -> None:  # type: ignore[no-untyped-def]
    server = server_factory(OPS_LIVE_QUEUE_LIMIT="200", OPS_LIVE_SEND_TIMEOUT_S="2")
    admin = login("admin").token
    token = login("operator").token
    slow = _raw_ws_that_never_reads(server.port, token, ["system"])
    try:
        with ws_connect(server, token) as fast:
            subscribe(fast, ["system"])
            blob = "ư" * 2000  # ~6 KB per event: the slow socket's buffers fill quickly
            last = 0
            deadline = time.monotonic() + 60
            while server.stats(admin)["dropped_slow"] < 1 and time.monotonic() < deadline:
                with db.transaction():
                    for _ in range(50):
                        last = emit_now(db, "system", {"blob": blob})
                recv_until(fast, has_event(lambda e, last=last: e["id"] == last), timeout=15)
            stats = server.stats(admin)
            assert stats["dropped_slow"] == 1, stats
            final = emit_now(db, "system", {"after": True})
            recv_until(fast, has_event(lambda e: e["id"] == final))  # the fast one never noticed
            assert server.stats(admin)["clients"] == 1
    finally:
        slow.close()


def test_late_commit_of_a_lower_id_is_still_delivered(live_server, login, db, settings) -> None:  # type: ignore[no-untyped-def]
    """Ids are taken at insert but seen at commit: a long transaction commits id N after N+1 was sent."""
    from ops_center.db import connect
    from ops_center.events import emit

    with ws_connect(live_server, login("operator").token) as ws, connect(settings.database_url) as slow_tx:
        subscribe(ws, ["incident"])
        early = emit(slow_tx, "incident", {"n": "early, committed late"})  # transaction left open
        late = emit_now(db, "incident", {"n": "later, committed first"})
        assert late > early
        recv_until(ws, has_event(lambda e: e["id"] == late))
        slow_tx.commit()
        recv_until(ws, has_event(lambda e: e["id"] == early))


def test_socket_closes_4401_when_the_token_expires(live_server, settings, login, db) -> None:  # type: ignore[no-untyped-def]
    op = login("operator")
    uid = db.execute("SELECT id FROM users WHERE username = %s", (op.username,)).fetchone()[0]
    token, _ = issue_token(settings.jwt_secret.get_secret_value(), op.username, "operator", 2, user_id=uid)
    with ws_connect(live_server, token) as ws:
        subscribe(ws, ["alert"])
        assert closed_code(ws) == 4401


def test_a_renewed_token_keeps_the_socket_open(live_server, settings, login, db) -> None:  # type: ignore[no-untyped-def]
    """The screen renews its token every few minutes and sends it on the open socket: no 4401 at the old expiry."""
    op = login("operator")
    uid = db.execute("SELECT id FROM users WHERE username = %s", (op.username,)).fetchone()[0]
    secret = settings.jwt_secret.get_secret_value()
    short, _ = issue_token(secret, op.username, "operator", 2, user_id=uid)
    with ws_connect(live_server, short) as ws:
        subscribe(ws, ["system"])
        ws.send(json.dumps({"type": "auth", "token": op.token}))
        assert recv_until(ws, lambda m: m.get("type") == "authenticated")["token_expires_at"] > time.time() + 60
        time.sleep(3)
        event = emit_now(db, "system", {"still": "open"})
        recv_until(ws, has_event(lambda e: e["id"] == event))
        other = login("operator").token
        ws.send(json.dumps({"type": "auth", "token": other}))  # someone else's token cannot take the socket
        assert "another account" in recv_until(ws, lambda m: m.get("type") == "error")["detail"]
