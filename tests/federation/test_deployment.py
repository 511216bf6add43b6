"""The federation as a deployment: a national instance and three provinces (Cà Mau with its broker, ingest and
the device simulator; Cần Thơ and Hà Nội from generated data) — separate databases, Redis, API ports, Celery
workers and beats, all real ``ops-center`` processes — on a schedule of seconds, with faults: the national
instance down (provinces hold and replay: nothing lost, nothing twice), the same snapshot twice, a province writing
another's code, a province's clock ahead (Hà Nội runs under libfaketime), a snapshot from a newer schema, and a
province falling silent (an alert at the national instance, resolved when it is back)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from ops_center.db import connect
from tests.support.deployment import PROVINCES, Deployment, Spec, Timing, temporary

pytestmark = pytest.mark.slow

TIMING = Timing(tick_s=1.0, publish_s=3.0, retry_base_s=0.3, retry_max_s=1.5, lease_s=5.0, http_timeout_s=2.0)
SPECS = tuple(Spec(s.name, s.code, s.simulator, "+15m" if s.name == "hanoi" else None) for s in PROVINCES)
KINDS = {"dossier_kpis", "incidents_open", "alerts_open", "device_health", "scorecard_766", "readiness"}


def wait_for(what: str, check: Callable[[], Any], timeout: float = 120.0, every: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def q(url: str, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    with connect(url) as conn:
        return list(conn.execute(sql, params).fetchall())


@pytest.fixture(scope="module")
def dep(tmp_path_factory: pytest.TempPathFactory, stack: Any) -> Iterator[Deployment]:
    import os

    os.environ["OPS_FEDERATION_MAX_CLOCK_SKEW_S"] = "3600"  # the national instance's tolerance (inherited env)
    try:
        with temporary(tmp_path_factory.mktemp("federation"), TIMING, SPECS) as d:
            yield d
    finally:
        os.environ.pop("OPS_FEDERATION_MAX_CLOCK_SKEW_S", None)


def all_in_sync(dep: Deployment) -> bool:
    """Every province's newest version of every (kind, period) is the one stored nationally, none pending."""
    nat = {(p, k, per): v for p, k, per, v in q(dep.national.db_url, "SELECT province, kind, period, version "
                                                                     "FROM federation_snapshots")}
    for inst in dep.provinces():
        newest = q(inst.db_url, "SELECT kind, period, max(version) FROM federation_outbox GROUP BY 1, 2")
        pending = q(inst.db_url, "SELECT count(*) FROM federation_outbox WHERE status IN ('pending', 'sending')")
        if pending[0][0] or not newest:
            return False
        if any(nat.get((inst.spec.code, k, per)) != v for k, per, v in newest):
            return False
    return True


def post(dep: Deployment, code: str, body: Any, path: str = "snapshots") -> httpx.Response:
    return httpx.post(f"{dep.national.url}/federation/v1/{path}", json=body,
                      headers={"Authorization": f"Bearer {dep.tokens[code]}"}, timeout=10)


def test_provinces_publish_and_the_nation_sees(dep: Deployment) -> None:
    def kinds() -> bool:
        rows = q(dep.national.db_url, "SELECT province, array_agg(DISTINCT kind) FROM federation_snapshots GROUP BY 1")
        return len(rows) == 3 and all(set(k) == KINDS for _, k in rows)

    wait_for("every kind from every province", kinds)
    wait_for("provinces in sync", lambda: all_in_sync(dep))
    with httpx.Client(base_url=dep.national.url, timeout=10) as client:
        token = client.post("/auth/token", data={"username": "admin", "password": dep.admin_password}).json()
        h = {"Authorization": f"Bearer {token['access_token']}"}
        fc = client.get("/national/map", params={"metric": "dossier_kpis.on_time_rate"}, headers=h).json()
        assert len(fc["features"]) == 34 and set(fc["ranking"]) == {"96", "92", "01"}
        fresh = {f["id"]: f["properties"]["freshness"] for f in fc["features"] if f["id"] in ("96", "92", "01")}
        assert fresh == {"96": "fresh", "92": "fresh", "01": "fresh"}
        devices = client.get("/national/map", params={"metric": "device_health.total", "geometry": "false"},
                             headers=h).json()
        camau = next(f for f in devices["features"] if f["id"] == "96")["properties"]["value"]
        assert camau >= 24  # the simulator's fleet is counted by Cà Mau and seen nationally
    skew = dict(q(dep.national.db_url, "SELECT code, clock_skew_s FROM federation_provinces"))
    assert 800 < skew["01"] < 1000 and abs(skew["92"]) < 60  # Hà Nội's clock is 15 min ahead, and shown


def test_national_down_provinces_hold_and_replay(dep: Deployment) -> None:
    from ops_center.incidents import service as incidents
    from ops_center.incidents.models import NewReport

    wait_for("provinces in sync", lambda: all_in_sync(dep))
    receipts_before = q(dep.national.db_url, "SELECT count(*) FROM federation_receipts")[0][0]
    dep.national.stop("api")
    try:
        for i, inst in enumerate(dep.provinces()):
            with connect(inst.db_url) as conn:
                incidents.file_report(conn, NewReport(title=f"Sạt lở {i}", category="flooding", source="operator",
                                                      lon=105.3, lat=9.3), actor="test")
                conn.commit()

        def held() -> bool:
            rows = [q(i.db_url, "SELECT count(*) FROM federation_outbox WHERE status = 'pending' AND attempts > 0 "
                                "AND last_error LIKE 'transport%%'")[0][0] for i in dep.provinces()]
            return all(n > 0 for n in rows)

        wait_for("every province holding snapshots it could not send", held, timeout=60)
        time.sleep(3)  # several retry rounds while down
    finally:
        dep.national.start_api()
    wait_for("replay after the national instance is back", lambda: all_in_sync(dep), timeout=120)
    receipts = q(dep.national.db_url, "SELECT province, kind, period, version FROM federation_receipts")
    assert len(receipts) == len(set(receipts)) and len(receipts) > receipts_before  # nothing twice, new ones in
    for inst in dep.provinces():
        failed = q(inst.db_url, "SELECT count(*) FROM federation_outbox WHERE status = 'failed'")[0][0]
        assert failed == 0
        stored = q(dep.national.db_url, "SELECT (data->>'open_total')::int FROM federation_snapshots WHERE "
                   "province = %s AND kind = 'incidents_open' ORDER BY period DESC LIMIT 1", (inst.spec.code,))
        local = q(inst.db_url, "SELECT count(*) FROM incidents WHERE status IN ('new', 'assigned', 'in_progress')")
        assert stored[0][0] == local[0][0]  # the change made while the nation was down arrived


def newest_envelope(dep: Deployment, code: str) -> dict[str, Any]:
    env = q(dep.by_code(code).db_url, "SELECT envelope FROM federation_outbox WHERE status = 'delivered' "
            "AND kind = 'dossier_kpis' ORDER BY version DESC LIMIT 1")[0][0]
    assert isinstance(env, dict)
    return env


def test_the_same_snapshot_twice_is_stored_once(dep: Deployment) -> None:
    env = newest_envelope(dep, "92")
    before = q(dep.national.db_url, "SELECT count(*) FROM federation_receipts")[0][0]
    answers = [post(dep, "92", env) for _ in range(2)]
    assert [(r.status_code, r.json()["outcome"]) for r in answers] in ([(200, "duplicate")] * 2,
                                                                        [(200, "stale")] * 2)
    assert q(dep.national.db_url, "SELECT count(*) FROM federation_receipts")[0][0] == before


def test_a_province_writing_another_code_is_refused(dep: Deployment) -> None:
    env = {**newest_envelope(dep, "96"), "version": 10**9}
    before = q(dep.national.db_url, "SELECT version FROM federation_snapshots WHERE province = '96' AND kind = "
               "'dossier_kpis' AND period = %s", (env["period"],))
    r = post(dep, "92", env)
    assert r.status_code == 403 and r.json()["reason"] == "foreign_province"
    letter = q(dep.national.db_url, "SELECT province, claimed_province FROM federation_dead_letters WHERE id = %s",
               (r.json()["dead_letter_id"],))
    assert letter == [("92", "96")]
    after = q(dep.national.db_url, "SELECT version FROM federation_snapshots WHERE province = '96' AND kind = "
              "'dossier_kpis' AND period = %s", (env["period"],))
    assert after == before


def test_a_snapshot_from_a_newer_schema(dep: Deployment) -> None:
    env = newest_envelope(dep, "01")
    minor = {**env, "schema_version": "1.3", "version": env["version"] + 1000, "signed_by": "x",
             "data": {**env["data"], "province": {**env["data"]["province"], "new_ratio": 0.5}}}
    r = post(dep, "01", minor)
    assert r.status_code == 201 and r.json()["ignored_fields"] == ["Envelope.signed_by", "DossierKpi.new_ratio"]
    major = {**env, "schema_version": "2.0", "version": env["version"] + 2000}
    r = post(dep, "01", major)
    assert r.status_code == 422 and r.json()["reason"] == "unsupported_schema_version"
    assert r.headers["content-type"] == "application/problem+json"
    assert q(dep.national.db_url, "SELECT reason FROM federation_dead_letters WHERE id = %s",
             (r.json()["dead_letter_id"],)) == [("unsupported_schema_version",)]


def test_a_silent_province_alerts_at_the_national_instance(dep: Deployment) -> None:
    cantho = dep.by_code("92")
    cantho.stop("beat")
    cantho.stop("worker")

    def silence_alert() -> list[tuple[Any, ...]]:
        dep.national.run("alerts", "evaluate")
        return q(dep.national.db_url, "SELECT subject FROM alerts WHERE ends_at IS NULL AND subject = 'province:92'")

    try:
        time.sleep(3 * TIMING.publish_s)
        assert wait_for("the silence alert", silence_alert, timeout=60, every=2) == [("province:92",)]
        others = q(dep.national.db_url, "SELECT subject FROM alerts WHERE ends_at IS NULL AND subject LIKE "
                   "'province:%%' AND subject <> 'province:92'")
        assert others == []
    finally:
        cantho.start_workers()
    wait_for("the alert resolved once Cần Thơ reports again", lambda: not silence_alert(), timeout=60, every=2)
    last = q(dep.national.db_url, "SELECT last_contact_at FROM federation_provinces WHERE code = '92'")[0][0]
    assert (datetime.now(UTC) - last).total_seconds() < 30


def test_the_screen_shows_34_provinces(dep: Deployment, tmp_path: Path) -> None:
    """A real browser on the national screen (the screenshot in docs/ is made the same way)."""
    from scripts.national_screenshot import capture

    path = capture(dep.national.url, "admin", dep.admin_password, tmp_path / "national.png")
    assert path.stat().st_size > 20_000
