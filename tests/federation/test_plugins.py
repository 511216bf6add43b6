"""The plug-in point for the scorecard kinds (issue #14's domain): a kind plugs in with one module — a ``Producer``
— and one entry point. A stand-in for the 766 scorecard proves the whole path here: registered, built into the
outbox, in the JSON Schema, accepted and validated by the national instance, its metric on the national map.
``test_the_scorecard_kinds_are_registered`` names the real kinds, which the scorecard domain registers through its
entry points (``ops_center.scorecard.federation``, ``ops_center.readiness.federation``)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

import httpx
import jsonschema
import pytest
from pydantic import Field

from ops_center.db import Conn, connect
from ops_center.federation import registry
from ops_center.federation.schema import snapshot_schema
from ops_center.federation.tasks import run_round
from ops_center.federation.wire import Code, Count, Wire
from tests.federation.conftest import National, national_user, province_config
from tests.federation.support import deliver_all, rows

EXPECTED_KINDS = {"dossier_kpis", "incidents_open", "alerts_open", "device_health", "scorecard_766", "readiness"}


class GroupPoints(Wire):
    group: Code
    points: float = Field(ge=0, le=100)


class StandInScorecard(Wire):
    total: float = Field(ge=0, le=100)
    groups: list[GroupPoints] = Field(max_length=10)
    units_scored: Count


def build(conn: Conn, months: Sequence[str], now: datetime) -> dict[str, StandInScorecard]:
    n = int(conn.execute("SELECT count(*) FROM units").fetchone()[0])  # type: ignore[index]
    return {m: StandInScorecard(total=71.5 + i, groups=[GroupPoints(group="1", points=15.0)], units_scored=n)
            for i, m in enumerate(months)}


STAND_IN = registry.Producer(
    kind="scorecard_standin", title_vi="Chỉ số 766 (thử)", title_en="766 index (stand-in)",
    data_model=StandInScorecard, build=build, topics=frozenset({"dossier"}), history=True,
    metrics=(registry.Metric("total", ("total",), "Tổng điểm 766", "766 total", "points"),))


@pytest.fixture
def stand_in() -> Iterator[registry.Producer]:
    registry.register(STAND_IN)
    try:
        yield STAND_IN
    finally:
        registry.unregister(STAND_IN.kind)


def test_a_kind_plugs_in_with_one_producer(stand_in: registry.Producer, national: National,
                                           province_url: str) -> None:
    token = national.register("80", schedule_s=60)
    cfg = province_config(national, "80", token, history_months=2)
    report = run_round(province_url, cfg, scheduled=True)
    assert not report["errors"], report
    built = rows(province_url, "SELECT period, version FROM federation_outbox WHERE kind = 'scorecard_standin'")
    assert len(built) == 2
    schema = snapshot_schema()
    assert "Snapshot_ScorecardStandin" in schema["$defs"]
    deliver_all(province_url, cfg)
    sent = [c for c in national.captured if b'"scorecard_standin"' in c.body]
    assert sent
    import orjson

    for c in sent:
        jsonschema.validate(orjson.loads(c.body), schema)
    with httpx.Client(base_url=national.url, timeout=30) as client:
        username, password = national_user(national, "leader")
        tok = client.post("/auth/token", data={"username": username, "password": password}).json()["access_token"]
        fc = client.get("/national/map", params={"metric": "scorecard_standin.total", "geometry": "false"},
                        headers={"Authorization": f"Bearer {tok}"}).json()
    by = {f["id"]: f["properties"] for f in fc["features"]}
    assert by["80"]["value"] == 72.5 and by["80"]["rank"] == 1 and fc["unit"] == "points"
    with connect(province_url) as conn:  # leave the shared province database as the other modules expect
        conn.execute("DELETE FROM federation_outbox WHERE kind = 'scorecard_standin'")
        conn.commit()


def test_the_scorecard_kinds_are_registered() -> None:
    assert set(registry.producers()) >= EXPECTED_KINDS
