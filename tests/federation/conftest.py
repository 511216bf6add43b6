"""Federation fixtures: a national instance served over real HTTP (uvicorn in a thread, its own database) whose
receiver records every request body as it came off the wire, and a provincial database of its own."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ops_center.auth.users import create_user
from ops_center.db import Conn, connect
from ops_center.federation.config import FederationConfig
from ops_center.federation.national import credentials
from ops_center.migrate import migrate
from ops_center.settings import Settings
from tests.support.services import database, free_port, wait_port

PROVINCES = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "vietnam" / "provinces_2025.geojson"


@dataclass(frozen=True)
class Captured:
    path: str
    headers: dict[str, str]
    body: bytes


class Capture:
    """ASGI middleware in front of the national app: keeps each request's path, headers and raw body."""

    def __init__(self, app: ASGIApp, sink: list[Captured]) -> None:
        self.app, self.sink = app, sink

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/federation/"):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []

        async def recording() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    headers = {k.decode(): v.decode("latin-1") for k, v in scope["headers"]}
                    self.sink.append(Captured(scope["path"], headers, b"".join(chunks)))
            return message

        await self.app(scope, recording, send)


@dataclass
class National:
    url: str
    settings: Settings
    cfg: FederationConfig
    app: Any
    captured: list[Captured] = field(default_factory=list)

    def conn(self) -> Conn:
        return connect(self.settings.database_url, autocommit=True)

    def register(self, code: str, schedule_s: int = 900) -> str:
        """Register a province and return a fresh credential for it."""
        with connect(self.settings.database_url) as conn:
            credentials.ensure_province(conn, code, f"Tỉnh {code}", schedule_s)
            token = credentials.issue(conn, code)
            conn.commit()
        return token


class Server:
    """uvicorn in a thread, stoppable and restartable on the same port (the national instance going down)."""

    def __init__(self, app: ASGIApp, port: int) -> None:
        self.app, self.port = app, port
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        wait_port(self.port, 20, what="national api")
        deadline = time.monotonic() + 20
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.05)

    def stop(self) -> None:
        if self.server is not None and self.thread is not None:
            self.server.should_exit = True
            self.thread.join(20)
        self.server = self.thread = None


def national_settings(base: Settings, url: str) -> Settings:
    return base.model_copy(update={"database_url": url})


@pytest.fixture(scope="module")
def national_server(settings: Settings) -> Iterator[tuple[National, Server]]:
    from api.app import create_app

    with database("ops_fed_nat") as url:
        with connect(url, autocommit=True) as conn:
            migrate(conn, "postgres")
        nat_settings = national_settings(settings, url)
        cfg = FederationConfig(mode="national", boundaries_file=PROVINCES.resolve())
        app = create_app(nat_settings)
        app.state.federation = cfg
        port = free_port()
        nat = National(f"http://127.0.0.1:{port}", nat_settings, cfg, app)
        server = Server(Capture(app, nat.captured), port)
        server.start()
        try:
            yield nat, server
        finally:
            server.stop()


@pytest.fixture(scope="module")
def national(national_server: tuple[National, Server]) -> National:
    return national_server[0]


@pytest.fixture(scope="module")
def province_url(settings: Settings) -> Iterator[str]:
    with database("ops_fed_prov") as url:
        with connect(url, autocommit=True) as conn:
            migrate(conn, "postgres")
        yield url


def province_config(national: National, code: str, token: str, **extra: Any) -> FederationConfig:
    values: dict[str, Any] = {"mode": "province", "upstream_url": national.url, "province_code": code,
                              "token": token, "retry_base_s": 0.05, "retry_max_s": 0.2, "http_timeout_s": 5.0,
                              "delivery_lease_s": 5.0, **extra}
    return FederationConfig(**values)


def national_user(national: National, role: str) -> tuple[str, str]:
    username, password = f"{role}-{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    with connect(national.settings.database_url) as conn:
        create_user(conn, username, password, role)
        conn.commit()
    return username, password
