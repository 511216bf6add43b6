"""Helpers shared by h-auth's security modules: real users in the session database, real API processes (uvicorn
subprocesses, as in tests/live), real WebSocket clients."""

from __future__ import annotations

import contextlib
import json
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection

from ops_center.auth.users import create_user
from ops_center.db import Conn
from tests.live.conftest import Server, start_server, stop_server


@dataclass(frozen=True)
class Account:
    username: str
    password: str
    id: int


def new_account(db: Conn, role: str, prefix: str = "sec") -> Account:
    username = f"{prefix}-{role}-{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(16)
    user = create_user(db, username, password, role)
    return Account(username, password, user.id)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: str

    def json(self) -> Any:
        return json.loads(self.body)


def http(url: str, method: str = "GET", *, data: bytes | None = None,
         headers: dict[str, str] | None = None) -> Answer:
    """One real HTTP request; 4xx/5xx are answers, not exceptions."""
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=15) as res:
            return Answer(res.status, {k.lower(): v for k, v in res.headers.items()}, res.read().decode())
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read().decode())


def password_login(base_url: str, username: str, password: str, headers: dict[str, str] | None = None) -> Answer:
    form = urllib.parse.urlencode({"username": username, "password": password}).encode()
    return http(f"{base_url}/auth/token", "POST", data=form,
                headers={"Content-Type": "application/x-www-form-urlencoded", **(headers or {})})


def closed_code(ws: ClientConnection, timeout: float = 10.0) -> int:
    """Read until the server closes; the close code (AssertionError when it stays open)."""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ws.recv(timeout=max(deadline - time.monotonic(), 0.01))
    except ConnectionClosed as exc:
        assert exc.rcvd is not None, "closed without a close frame"
        return exc.rcvd.code
    except TimeoutError:
        pass
    raise AssertionError(f"the server did not close the socket within {timeout} s")


def eventually(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.1)


@contextlib.contextmanager
def api_process(stack: Any, log: Path, log_level: str = "warning", **env: str) -> Iterator[Server]:
    """The API in its own uvicorn process (run as `ops-center api` runs it), stopped at the end."""
    server = start_server(stack.env, log, log_level, **env)
    try:
        yield server
    finally:
        stop_server(server)
