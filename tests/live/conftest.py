"""Fixtures for the live feed and screens: the real API served by uvicorn in a subprocess on a free port, with the
test stack's settings, and helpers for WebSocket clients."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

from ops_center.events import emit
from tests.conftest import ARTIFACTS
from tests.support.services import free_port

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Server:
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        """The feed's URL: the token goes in the first message, never in the URL."""
        return f"ws://127.0.0.1:{self.port}/ws/live"

    def stats(self, token: str) -> dict[str, Any]:
        req = urllib.request.Request(f"{self.url}/live/stats", headers={"Authorization": f"Bearer {token}"})
        return json.loads(urllib.request.urlopen(req, timeout=5).read())  # type: ignore[no-any-return]


def start_server(env: dict[str, str], log: Path, log_level: str = "warning", **extra_env: str) -> Server:
    port = free_port()
    fh = open(log, "ab")  # noqa: SIM115 - owned by the process
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", log_level, "--no-proxy-headers"],  # as `ops-center api` runs it
        env={**env, **extra_env}, stdout=fh, stderr=fh, cwd=REPO,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"uvicorn exited {proc.returncode}: {log.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return Server(port, proc, log)
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"uvicorn did not answer on {port}: {log.read_text()[-3000:]}")


def stop_server(server: Server) -> None:
    if server.proc.poll() is None:
        server.proc.terminate()
        try:
            server.proc.wait(15)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait()


@pytest.fixture(scope="session")
def live_server(stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:  # type: ignore[no-untyped-def]
    """The API in its own uvicorn process (session-wide), on the stack's database and broker."""
    ARTIFACTS.mkdir(exist_ok=True)
    log = ARTIFACTS / "uvicorn-live.log"
    log.unlink(missing_ok=True)
    server = start_server(stack.env, log)
    yield server
    stop_server(server)


@pytest.fixture
def server_factory(stack, tmp_path: Path) -> Iterator[Callable[..., Server]]:  # type: ignore[no-untyped-def]
    """``make(**OPS_LIVE_… env)`` → a private API process with other live-feed settings."""
    made: list[Server] = []

    def make(**extra_env: str) -> Server:
        s = start_server(stack.env, tmp_path / f"uvicorn-{len(made)}.log", **extra_env)
        made.append(s)
        return s

    yield make
    for s in made:
        stop_server(s)


@contextlib.contextmanager
def ws_connect(server: Server, token: str | None) -> Iterator[ClientConnection]:
    """A socket that authenticates with ``{"type": "auth", "token": token}`` (``None``: sends no auth message but
    a subscription, which the server refuses)."""
    with connect(server.ws_url, open_timeout=10, max_size=2**24) as ws:
        if token is None:
            ws.send(json.dumps({"type": "subscribe", "topics": ["alert"]}))
        else:
            ws.send(json.dumps({"type": "auth", "token": token}))
        yield ws


def recv_json(ws: ClientConnection, timeout: float = 10.0) -> dict[str, Any]:
    return json.loads(ws.recv(timeout=timeout))  # type: ignore[no-any-return]


def recv_until(ws: ClientConnection, pred: Callable[[dict[str, Any]], bool], timeout: float = 10.0,
               seen: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Messages until one satisfies ``pred`` (returned); a ``TimeoutError`` names what was seen meanwhile."""
    deadline = time.monotonic() + timeout
    got: list[dict[str, Any]] = seen if seen is not None else []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no matching message within {timeout}s; saw {[m.get('type') for m in got][-20:]}")
        msg = recv_json(ws, left)
        got.append(msg)
        if pred(msg):
            return msg


def event_items(msg: dict[str, Any]) -> list[dict[str, Any]]:
    return msg["items"] if msg.get("type") == "events" else []


def has_event(pred: Callable[[dict[str, Any]], bool]) -> Callable[[dict[str, Any]], bool]:
    return lambda msg: any(pred(e) for e in event_items(msg))


def subscribe(ws: ClientConnection, topics: list[str], **extra: Any) -> dict[str, Any]:
    """Send a subscription; returns the ``subscribed`` answer (after the ``hello``)."""
    ws.send(json.dumps({"type": "subscribe", "topics": topics, **extra}))
    return recv_until(ws, lambda m: m.get("type") in ("subscribed", "error"))


def emit_now(db, topic: str, payload: dict[str, Any], **kw: Any) -> int:  # type: ignore[no-untyped-def]
    """Emit one event in its own committed transaction (``db`` is autocommit)."""
    with db.transaction():
        return emit(db, topic, payload, **kw)


def tag() -> str:
    return secrets.token_hex(3)


# ---------------------------------------------------------------- boundary sets, devices, alerts


@pytest.fixture(scope="session")
def camau(settings) -> str:  # type: ignore[no-untyped-def]
    """The Cà Mau sets imported into the session database (as ``make up`` does); the name of the set in force."""
    from geo.demo import ensure_demo
    from geo.service import set_in_force
    from ops_center.db import connect

    with connect(settings.database_url, autocommit=True) as conn:
        ensure_demo(conn, settings.data_dir, say=lambda _: None)
        name = set_in_force(conn)
    assert name is not None
    return name


def ward_count(db, set_name: str, level: str = "ward") -> int:  # type: ignore[no-untyped-def]
    row = db.execute("SELECT count(*) FROM boundary_units WHERE set_name = %s AND level = %s",
                     (set_name, level)).fetchone()
    return int(row[0])


def some_ward(db, set_name: str, index: int = 0) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    row = db.execute("SELECT code, name, rep_lon, rep_lat FROM boundary_units WHERE set_name = %s AND level = 'ward' "
                     "ORDER BY code OFFSET %s LIMIT 1", (set_name, index)).fetchone()
    return {"code": row[0], "name": row[1], "lon": row[2], "lat": row[3]}


def add_device(db, device_id: str, ward: dict[str, Any], kind: str = "salinity") -> None:  # type: ignore[no-untyped-def]
    """A device at the ward's representative point, assigned to it through geo (as the devices API does)."""
    from geo.service import assign_ward

    ref = assign_ward(db, ward["lon"], ward["lat"])
    db.execute("INSERT INTO devices (id, kind, name, lon, lat, ward_set, ward_code, ward_status, last_seen, "
               "expected_interval_s) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, now(), 60)",
               (device_id, kind, f"Trạm đo mặn {device_id}", ward["lon"], ward["lat"], ref.set_name, ref.code,
                ref.status))


def fire_alert(db, ward_code: str, summary: str, severity: str = "critical",  # type: ignore[no-untyped-def]
               device: str | None = None) -> dict[str, Any]:
    """An alert opened through the alert engine's lifecycle (row + timeline + ``alert`` event, one transaction)."""
    from datetime import UTC, datetime

    from alerts.lifecycle import Firing, fire
    from alerts.rules.ref import RuleRef

    subject = device or f"ward:{ward_code}:{tag()}"
    labels = {"ward": ward_code, "device": device, "kind": "salinity", "metric": "salinity_ppt"}
    with db.transaction():
        change = fire(db, Firing(RuleRef(None, "Độ mặn vượt ngưỡng (thử nghiệm)", severity), subject,
                                 {k: v for k, v in labels.items() if v is not None}, summary, 6.5,
                                 datetime.now(UTC)))
    assert change is not None
    return dataclasses.asdict(change.alert)


@contextmanager
def salinity_station(db, stack, tmp_path, ward: dict[str, Any]) -> Iterator[tuple[str, Any]]:  # type: ignore[no-untyped-def]
    """A salinity station in ``ward`` with a stream rule (> 4‰, critical), the real ingest process, and
    ``send(value)`` publishing the station's reading over MQTT at QoS 1; yields (device id, send)."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from alerts.rule_changes import create_rule
    from alerts.rules.models import parse_rule
    from tests.pipeline.conftest import IngestProc, discard_session

    device = f"salt-{tag()}"
    add_device(db, device, ward)
    with db.transaction():
        create_rule(db, parse_rule({"kind": "threshold", "name": f"Mặn vượt 4‰ ({device})", "severity": "critical",
                                    "metric": "salinity_ppt", "operator": ">", "value": 4.0,
                                    "scope": {"device": device}}), "test")
    s = stack.settings
    client_id, port = f"ingest-live-{tag()}", free_port()
    ingest = IngestProc({**stack.env, "OPS_INGEST_SHARE_GROUP": f"live{tag()}", "OPS_INGEST_CLIENT_ID": client_id,
                         "OPS_INGEST_METRICS_PORT": str(port), "OPS_INGEST_FLUSH_MS": "50"},
                        client_id, port, tmp_path / "ingest.log")
    ingest.start()
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"dev-{device}", protocol=mqtt.MQTTv5)
    pub.username_pw_set(s.mqtt_username, s.mqtt_password.get_secret_value())
    pub.connect(s.mqtt_host, s.mqtt_port)
    pub.loop_start()

    def send(value: float) -> None:
        pub.publish(f"ops/v1/devices/{device}/telemetry",
                    json.dumps({"ts": time.time(), "metrics": {"salinity_ppt": value}}), qos=1).wait_for_publish(10)

    try:
        yield device, send
    finally:
        pub.loop_stop()
        pub.disconnect()
        ingest.terminate()
        discard_session(s.mqtt_host, s.mqtt_port, s.mqtt_username, s.mqtt_password.get_secret_value(), client_id)


os.environ.setdefault("PYTHONUNBUFFERED", "1")


# ---------------------------------------------------------------- browser: the `browser` and `page` fixtures are in
# tests/conftest.py (one Chromium per session, shared with tests/security)


def browser_login(page, server: Server, username: str, password: str, path: str = "/") -> None:  # type: ignore[no-untyped-def]
    """Open ``path``, get sent to the login page, sign in, come back to ``path``."""
    page.goto(f"{server.url}{path}")
    page.wait_for_url("**/login**")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#submit")
    page.wait_for_url(f"{server.url}{path}")


def click_ward(page, code: str) -> None:  # type: ignore[no-untyped-def]
    """Click ward ``code`` of the map where the ward itself is under the pointer (not a device marker on it)."""
    point = page.evaluate("""(code) => {
        const p = document.querySelector(`svg.ward-map path.ward[data-code='${code}']`);
        const b = p.getBoundingClientRect();
        for (let i = 1; i < 16; i += 1) for (let j = 1; j < 16; j += 1) {
            const x = b.left + (b.width * i) / 16, y = b.top + (b.height * j) / 16;
            if (document.elementFromPoint(x, y) === p) return [x, y];
        }
        return null;
    }""", code)
    assert point, f"ward {code} is nowhere clickable"
    page.mouse.click(*point)
