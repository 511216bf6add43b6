"""A replica stopped mid-test costs no 5xx: a real API process (uvicorn) reads through a real streaming replica
under load from several client threads; the replica's server is stopped (``pg_ctl -m immediate``: queries in flight
fail, as in a crash) and started again. Every answer is counted: all 200, reads fell back to the primary while the
replica was down, and went back to the replica once it was streaming again."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.testclient import TestClient

from api.app import create_app
from api.deps import ReadConn
from api.replica_reads import ReadRoute
from ops_center.settings import Settings
from tests.conftest import Stack
from tests.replica.support import Province, bearer, replica_entry, replica_settings
from tests.replica.test_identical import wait_entry
from tests.security.support_h_api import api_server
from tests.support.replica import StreamingPair

THREADS = 4


@dataclass
class Load:
    """Client threads sending the read-heavy requests in turn until stopped; every answer recorded."""

    url: str
    headers: dict[str, str]
    requests: list[tuple[str, dict[str, str]]]
    statuses: list[tuple[float, str, int]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def _one(self, path: str, params: dict[str, str]) -> None:
        req = urllib.request.Request(f"{self.url}{path}?{urllib.parse.urlencode(params)}", headers=self.headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                r.read()
                status = int(r.status)
        except urllib.error.HTTPError as exc:
            exc.read()
            status = int(exc.code)
        except OSError as exc:  # the API must stay up: a refused or dropped connection is a failure
            self.errors.append(f"{path}: {exc!r}")
            return
        self.statuses.append((time.monotonic(), path, status))

    def run(self, index: int) -> None:
        i = index
        while not self.stop.is_set():
            self._one(*self.requests[i % len(self.requests)])
            i += 1


def readyz(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url + "/readyz", timeout=10) as r:
        body: dict[str, Any] = json.loads(r.read())
    return body


def wait(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_replica_stopped_under_load_costs_no_5xx(stack: Stack, pair: StreamingPair, province: Province,
                                                 tmp_path: Path) -> None:
    s = replica_settings(stack.settings, pair)
    env = {**stack.env, "OPS_DATABASE_URL": pair.primary_url, "OPS_DB_REPLICA_URLS": json.dumps([pair.replica_url]),
           "OPS_DB_REPLICA_CHECK_S": "0.2", "OPS_DB_REPLICA_MAX_LAG_S": "5", "OPS_DB_POOL_MAX": "6"}
    pair.wait_caught_up()
    with api_server(env, tmp_path / "api.log") as server:
        def entry() -> dict[str, Any]:
            return replica_entry(readyz(server.url))

        assert wait(lambda: entry()["usable"], 15), entry()
        load = Load(server.url, bearer(s, province), province.requests())
        threads = [threading.Thread(target=load.run, args=(i,), daemon=True) for i in range(THREADS)]
        for t in threads:
            t.start()
        try:
            assert wait(lambda: entry()["reads"] >= 20, 30), entry()
            pair.stop_replica("immediate")
            down_at = time.monotonic()
            assert wait(lambda: not entry()["reachable"], 10), entry()
            down = entry()
            fallbacks_down = readyz(server.url)["checks"]["replicas"]["primary_reads"]
            time.sleep(3.0)  # reads go on, from the primary
            fallbacks = readyz(server.url)["checks"]["replicas"]["primary_reads"] - fallbacks_down
            pair.start_replica()
            assert wait(lambda: entry()["usable"], 30), entry()
            reads_back = entry()["reads"]
            assert wait(lambda: entry()["reads"] >= reads_back + 10, 30), entry()
            time.sleep(1.0)
        finally:
            load.stop.set()
            for t in threads:
                t.join(60)
        log = server.log_text()
        final = readyz(server.url)["checks"]["replicas"]

    assert not load.errors, load.errors[:5]
    counted = [st for _, _, st in load.statuses]
    during = [st for at, _, st in load.statuses if at > down_at]
    assert counted and set(counted) == {200}, {st: counted.count(st) for st in set(counted)}
    assert len(during) >= 20, f"only {len(during)} answers after the replica stopped"
    assert not down["usable"] and down["reason"].startswith("unreachable"), down
    assert fallbacks > 0, "no read fell back to the primary while the replica was down"
    assert final["usable"] == 1 and final["items"][0]["failed_reads"] >= 0
    assert "Internal Server Error" not in log and "Traceback" not in log, log[-3000:]
    print(f"\n{len(counted)} answers, all 200 ({len(during)} after the stop); {fallbacks} reads on the primary "
          f"in 3 s of outage; replica reads {final['items'][0]['reads']}, failed reads served again "
          f"{final['items'][0]['failed_reads']}")


def test_a_read_failing_on_its_replica_is_served_again_from_the_primary(settings: Settings, pair: StreamingPair,
                                                                       province: Province) -> None:
    """Deterministic: a route whose replica session dies under it (it ends its own backend) answers 200 from the
    primary; the replica is taken out at once and back after its next good check."""
    router = APIRouter(route_class=ReadRoute)

    @router.get("/test/replica-dies")
    def dies(conn: ReadConn) -> dict[str, bool]:
        row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
        standby = bool(row and row[0])
        if standby:
            conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        return {"standby": standby}

    app = create_app(replica_settings(settings, pair, check_s=1.0))
    app.include_router(router)
    with TestClient(app) as client:
        assert wait_entry(client, lambda e: e["usable"])["usable"]
        r = client.get("/test/replica-dies")
        assert r.status_code == 200 and r.json() == {"standby": False}, r.text
        entry = replica_entry(client.get("/readyz").json())
        assert entry["failed_reads"] == 1 and entry["reads"] == 1, entry
        assert not entry["usable"] and entry["reason"].startswith("a read failed"), entry
        assert wait_entry(client, lambda e: e["usable"])["usable"], "back after a good check"


def test_primary_and_replica_down_is_503_with_retry_after(settings: Settings, pair: StreamingPair,
                                                          province: Province) -> None:
    """The database outage answer holds with replicas: 503 problem+json with Retry-After, never a 500; and reads
    come back when the servers do."""
    s = replica_settings(settings, pair, check_s=0.2).model_copy(update={"db_pool_timeout_s": 1.0})
    headers = bearer(s, province)
    path, params = province.requests()[2]
    with TestClient(create_app(s)) as client:
        assert wait_entry(client, lambda e: e["usable"])["usable"]
        assert client.get(path, params=params, headers=headers).status_code == 200
        pair.stop_replica("immediate")
        pair.primary.stop()
        try:
            time.sleep(s.db_replica_check_s * 3)
            r = client.get(path, params=params, headers=headers)
            assert r.status_code == 503, r.text
            assert r.headers["content-type"].startswith("application/problem+json")
            assert r.headers["retry-after"] == "5"
            ready = client.get("/readyz")
            assert ready.status_code == 503 and not replica_entry(ready.json())["usable"]
        finally:
            pair.primary.start()
            pair.start_replica()
        pair.wait_caught_up()
        assert wait(lambda: client.get(path, params=params, headers=headers).status_code == 200, 30)
        assert wait_entry(client, lambda e: e["usable"])["usable"]
