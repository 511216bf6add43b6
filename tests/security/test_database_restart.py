"""#11 item 14: a PostgreSQL restart costs no 500. Our own private cluster is stopped and started again under HTTP
load from several client threads against a real uvicorn subprocess: during the outage routes answer 503
problem+json with ``Retry-After``; afterwards every route, ``/readyz`` and the live feed's LISTEN come back."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ops_center.auth.users import create_user
from ops_center.db import connect
from ops_center.migrate import migrate
from tests.conftest import Stack
from tests.security.support_h_api import ApiServer, api_server
from tests.support.services import PrivatePostgres, private_postgres

PATHS = ["/alerts?limit=5", "/devices?limit=5", "/incidents?limit=5", "/readyz", "/auth/me"]
THREADS = 4
OUTAGE_S = 4.0
RECOVERY_S = 15.0  # generous: the point is "seconds, not the 40 s the probe saw"


@dataclass
class Answer:
    at: float
    path: str
    status: int
    retry_after: str | None
    media_type: str


@dataclass
class Load:
    """Client threads requesting ``PATHS`` in turn until stopped; every answer recorded."""

    url: str
    token: str
    answers: list[Answer] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def _one(self, path: str) -> None:
        req = urllib.request.Request(self.url + path, headers={"Authorization": f"Bearer {self.token}"})
        try:
            with urllib.request.urlopen(req, timeout=20) as r:
                r.read()
                status, headers = r.status, r.headers
        except urllib.error.HTTPError as exc:
            exc.read()
            status, headers = exc.code, exc.headers
        except OSError as exc:  # the API itself must stay up: a refused or dropped connection is a failure
            self.errors.append(f"{path}: {exc!r}")
            return
        self.answers.append(Answer(time.monotonic(), path, status, headers.get("retry-after"),
                                   headers.get("content-type", "")))

    def run(self, index: int) -> None:
        i = index
        while not self.stop.is_set():
            self._one(PATHS[i % len(PATHS)])
            i += 1
            time.sleep(0.02)


@pytest.fixture
def cluster() -> Iterator[tuple[PrivatePostgres, str]]:
    with private_postgres() as pg:
        with connect(pg.admin_url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE ops")
        url = pg.admin_url.rsplit("/", 1)[0] + "/ops"
        with connect(url, autocommit=True) as conn:
            migrate(conn, "postgres")
            create_user(conn, "restart-admin", "restart-admin-password", "admin")
        yield pg, url


def _token(server: ApiServer) -> str:
    body = urllib.parse.urlencode({"username": "restart-admin", "password": "restart-admin-password"}).encode()
    with urllib.request.urlopen(server.url + "/auth/token", data=body, timeout=10) as r:
        return str(json.loads(r.read())["access_token"])


def _listening(url: str) -> bool:
    """The live feed's LISTEN connection is (back) on the server."""
    try:
        with connect(url, autocommit=True) as conn:
            row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'ops-live' "
                               "AND query LIKE 'LISTEN ops_%'").fetchone()  # its last statement: a LISTEN
    except Exception:
        return False
    return bool(row and row[0] >= 1)


def _wait(predicate: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.2)
    return False


def test_restart_under_load_answers_503_never_500(stack: Stack, cluster: tuple[PrivatePostgres, str],
                                                  tmp_path: Path) -> None:
    pg, url = cluster
    env = {**stack.env, "OPS_DATABASE_URL": url, "OPS_DB_POOL_TIMEOUT_S": "2", "OPS_DB_POOL_MAX": "4"}
    with api_server(env, tmp_path / "api.log") as server:
        assert _wait(lambda: _listening(url), 10)
        load = Load(server.url, _token(server))
        threads = [threading.Thread(target=load.run, args=(i,), daemon=True) for i in range(THREADS)]
        for t in threads:
            t.start()
        time.sleep(2.0)  # every pooled connection has been used: they all go stale with the restart
        pg.stop()
        down_at = time.monotonic()
        time.sleep(OUTAGE_S)
        pg.start()
        back_at = time.monotonic()
        recovered = _wait(lambda: any(a.at > back_at and a.path == "/readyz" and a.status == 200
                                      for a in list(load.answers)), RECOVERY_S)
        time.sleep(3.0)  # then a stretch that must be all 200
        load.stop.set()
        for t in threads:
            t.join(30)
        listening = _wait(lambda: _listening(url), RECOVERY_S)
        log = server.log_text()

    assert not load.errors, load.errors[:5]
    statuses = [a.status for a in load.answers]
    assert 500 not in statuses, [a for a in load.answers if a.status == 500][:5]
    assert set(statuses) <= {200, 503}, sorted(set(statuses))
    unavailable = [a for a in load.answers if a.status == 503]
    assert unavailable, "the load never saw the outage"
    assert all(a.retry_after == "5" for a in unavailable if a.path != "/readyz")
    assert all(a.media_type == "application/problem+json" for a in unavailable if a.path != "/readyz")
    assert all(down_at - 1 <= a.at for a in unavailable), "503 before the outage"
    assert recovered, f"/readyz not ready within {RECOVERY_S} s of the database coming back"
    tail = [a for a in load.answers if a.at >= max(load.answers[-1].at - 2.5, back_at)]
    assert tail and all(a.status == 200 for a in tail), [(a.path, a.status) for a in tail if a.status != 200]
    assert listening, "the live feed did not LISTEN again"
    assert "Internal Server Error" not in log and "Traceback" not in log, log[-3000:]
