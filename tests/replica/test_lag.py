"""A replica that lags is skipped, and a client reads its own writes.

Replay is paused on the real replica (``pg_wal_replay_pause()``) while the primary takes new dossier events: with
a lag limit of 1 s the replica is shown lagging in ``/readyz`` and skipped (the answers are the primary's, new
events included); with a generous limit it keeps serving its older answer to others, while the client that wrote
reads the primary for ``OPS_DB_REPLICA_STICKY_S``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.replica_reads import READ_PRIMARY_COOKIE
from ops_center.db import connect
from ops_center.dossiers import service as dossiers
from ops_center.settings import Settings
from tests.replica.support import Province, bearer, replica_settings
from tests.replica.test_identical import wait_entry
from tests.support.replica import StreamingPair

_n = 0


def event(province: Province) -> dict[str, Any]:
    """A new dossier received today at the first unit."""
    global _n
    _n += 1
    at = datetime.now(UTC) - timedelta(minutes=5)
    return {"dossier_id": f"HS-RPL-LAG-{at:%H%M%S%f}-{_n}", "type": "received", "at": at.isoformat(),
            "channel": "counter", "procedure": "TT-RPL-3", "unit": province.units[0]}


def kpi_request(province: Province) -> tuple[str, dict[str, str]]:
    today = datetime.now(UTC).date()
    return "/kpis/dossiers", {"level": "province", "period": "year", "from": f"{today.year}-01-01",
                              "to": today.isoformat()}


def received(answer: Any) -> int:
    return int(answer.json()["items"][0]["received"]["total"])


@pytest.fixture
def paused(pair: StreamingPair) -> Iterator[StreamingPair]:
    """Replay paused right after a fresh commit was replayed (so the replica's last replayed transaction is
    seconds old, not as old as the data load); resumed afterwards whatever happens."""
    with connect(pair.primary_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS replica_probe (at timestamptz)")
        conn.execute("INSERT INTO replica_probe VALUES (now())")
    pair.wait_caught_up()
    pair.pause_replay()
    try:
        yield pair
    finally:
        pair.resume_replay()
        pair.wait_caught_up()


def test_a_lagging_replica_is_skipped(settings: Settings, pair: StreamingPair, province: Province,
                                      primary_client: TestClient) -> None:
    s = replica_settings(settings, pair, max_lag_s=1.0)
    headers = bearer(s, province)
    path, params = kpi_request(province)
    with TestClient(create_app(s)) as client:
        assert wait_entry(client, lambda e: e["usable"])["usable"]
        replicas = client.app.state.replicas  # type: ignore[attr-defined]
        before = received(client.get(path, params=params, headers=headers))
        pair.pause_replay()
        try:
            with connect(pair.primary_url) as conn:
                dossiers.ingest_events(conn, [event(province)], "http:/dossiers/events")
                conn.commit()
            entry = wait_entry(client, lambda e: not e["usable"] and (e["lag_s"] or 0) > 1.0)
            assert not entry["usable"] and entry["reachable"], entry
            assert entry["lag_s"] > 1.0 and entry["lag_bytes"] > 0 and entry["replay_paused"], entry
            assert entry["reason"].startswith("lag "), entry
            assert client.get("/readyz").status_code == 200  # a lagging replica never makes the API unready
            fallbacks = replicas.primary_reads
            got = client.get(path, params=params, headers=headers)
            want = primary_client.get(path, params=params, headers=headers)
            assert got.status_code == 200 and got.content == want.content
            assert received(got) == before + 1, "the new dossier is in the answer: the primary served it"
            assert replicas.primary_reads == fallbacks + 1
        finally:
            pair.resume_replay()
        entry = wait_entry(client, lambda e: e["usable"])
        assert entry["usable"] and entry["lag_s"] <= 1.0 and not entry["replay_paused"], entry
        reads = replicas.statuses()[0].reads
        assert received(client.get(path, params=params, headers=headers)) == before + 1
        assert replicas.statuses()[0].reads == reads + 1, "back on the replica once it caught up"


def test_a_client_reads_its_own_writes(settings: Settings, paused: StreamingPair, province: Province) -> None:
    s = replica_settings(settings, paused, max_lag_s=600.0, sticky_s=30.0)
    headers = bearer(s, province)
    path, params = kpi_request(province)
    with TestClient(create_app(s)) as client:
        assert wait_entry(client, lambda e: e["usable"])["usable"]
        replicas = client.app.state.replicas  # type: ignore[attr-defined]
        before = received(client.get(path, params=params, headers=headers))
        r = client.post("/dossiers/events", headers=headers, json={"events": [event(province)]})
        assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
        cookie = r.cookies.get(READ_PRIMARY_COOKIE)
        assert cookie is not None and float(cookie) > datetime.now(UTC).timestamp() + 20
        assert "HttpOnly" in r.headers["set-cookie"] and "SameSite=Strict" in r.headers["set-cookie"]
        reads = replicas.statuses()[0].reads
        assert received(client.get(path, params=params, headers=headers)) == before + 1, "its own write"
        assert replicas.statuses()[0].reads == reads, "read from the primary"
        client.cookies.clear()  # another client (or this one later): the replica's answer, up to the lag limit
        assert received(client.get(path, params=params, headers=headers)) == before
        assert replicas.statuses()[0].reads == reads + 1
        refused = client.post("/dossiers/events", headers=headers, content=b"not json")
        assert refused.status_code == 400 and READ_PRIMARY_COOKIE not in refused.cookies, "no mark for a refusal"
