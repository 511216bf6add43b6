"""Reads through a real streaming replica answer exactly what the primary answers: map summary (GeoJSON and CSV),
dossier KPIs and their trend, the 766 scorecard and ranking, a device's chart and readings in buckets — and every
one of those reads was served by the replica (its read counter), none by the primary. ``/readyz`` names the
replica (``host:port/dbname``) and its lag."""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient

from api.app import create_app
from ops_center.settings import Settings
from tests.replica.support import Province, bearer, replica_entry, replica_settings
from tests.support.replica import StreamingPair


def wait_entry(client: TestClient, want: Any, timeout: float = 10.0) -> dict[str, Any]:
    """The replica's ``/readyz`` entry once ``want(entry)`` holds (the last one seen otherwise)."""
    deadline = time.monotonic() + timeout
    while True:
        r = client.get("/readyz")
        entry = replica_entry(r.json())
        if want(entry) or time.monotonic() > deadline:
            return entry
        time.sleep(0.1)


def test_replica_answers_equal_the_primary(settings: Settings, pair: StreamingPair, province: Province,
                                           primary_client: TestClient) -> None:
    pair.wait_caught_up()
    s = replica_settings(settings, pair)
    headers = bearer(s, province)
    with TestClient(create_app(s)) as client:
        entry = wait_entry(client, lambda e: e["usable"])
        assert entry["usable"], entry
        assert entry["name"] == f"127.0.0.1:{pair.replica.port}/{pair.database}"
        assert entry["reachable"] and entry["lag_s"] is not None and entry["lag_s"] <= s.db_replica_max_lag_s
        replicas = client.app.state.replicas  # type: ignore[attr-defined]
        reads_before, fallbacks_before = replicas.statuses()[0].reads, replicas.primary_reads
        compared = 0
        for path, params in province.requests():
            want = primary_client.get(path, params=params, headers=headers)
            got = client.get(path, params=params, headers=headers)
            assert want.status_code == 200, (path, want.text[:500])
            assert got.status_code == 200, (path, got.text[:500])
            assert got.headers["content-type"] == want.headers["content-type"], path
            assert got.content == want.content, path
            assert len(got.content) > 100, (path, got.text)  # real answers, not empty ones
            compared += 1
        served = replicas.statuses()[0].reads - reads_before
        assert served == compared, f"{served} of {compared} reads served by the replica"
        assert replicas.primary_reads == fallbacks_before
        body = client.get("/readyz").json()
        assert body["status"] == "ready"
        assert body["checks"]["replicas"]["ok"] and body["checks"]["replicas"]["usable"] == 1
        assert replica_entry(body)["reads"] >= compared


def test_writes_and_entity_reads_stay_on_the_primary(settings: Settings, pair: StreamingPair,
                                                     province: Province) -> None:
    """Only ReadConn routes count replica reads: a device list (an entity read), a write, and the login check
    all leave the replica untouched."""
    s = replica_settings(settings, pair)
    headers = bearer(s, province)
    with TestClient(create_app(s)) as client:
        wait_entry(client, lambda e: e["usable"])
        replicas = client.app.state.replicas  # type: ignore[attr-defined]
        before = replicas.statuses()[0].reads
        assert client.get("/devices", params={"limit": 5}, headers=headers).status_code == 200
        assert client.get("/auth/me", headers=headers).status_code == 200
        r = client.post("/procedures", headers=headers, json={"procedures": [
            {"code": "TT-RPL-NEW", "name": "Thủ tục mới", "processing_days": 3}]})
        assert r.status_code == 200, r.text
        assert replicas.statuses()[0].reads == before
