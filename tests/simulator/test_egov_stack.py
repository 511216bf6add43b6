"""A `make up`-like run: a database of its own (migrated, the Cà Mau boundary sets, the first admin), the API in
uvicorn on it, and ``ops-center simulate --onestop-only`` as `make up` starts it (the key owned by ``admin``) over the
last weeks. Every feed arrives exactly as planned (dossiers, petitions, documents, meetings, unit facts), nothing
refused; ``/readiness`` answers the 2019 report's figures for 2019-12-31; ``/scorecard`` gives the province a
plausible total with every group scored."""

from __future__ import annotations

import json
import secrets
import urllib.request
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from geo.demo import ensure_demo
from ingest.simulator.geography import load_geography
from ingest.simulator.onestop import Planner, load_config
from ingest.simulator.onestop_feeds import FeedPlanner, rooms
from ingest.simulator.onestop_setup import build_province, load_wards_2019
from ingest.simulator.onestop_units import fact_items, load_egov, province_units
from ops_center.auth.users import create_user
from ops_center.db import connect
from ops_center.dossiers.calendar import load_calendar
from ops_center.migrate import migrate
from ops_center.settings import LOCAL_TZ as ICT
from tests.live.conftest import Server, start_server, stop_server
from tests.support.services import database

SEED, SCALE = 4, 0.1


@pytest.fixture(scope="module")
def fresh(stack, tmp_path_factory) -> Iterator[tuple[str, dict[str, str], Server]]:  # type: ignore[no-untyped-def]
    with database("ops_egov_stack") as url:
        with connect(url, autocommit=True) as conn:
            migrate(conn, "postgres")
            ensure_demo(conn, stack.settings.data_dir, say=lambda _: None)
            create_user(conn, "admin", secrets.token_urlsafe(16), "admin", "Quản trị viên")
        env = {**stack.env, "OPS_DATABASE_URL": url}
        server = start_server(env, tmp_path_factory.mktemp("egov") / "uvicorn.log")
        try:
            yield url, env, server
        finally:
            stop_server(server)


def _get(server: Server, token: str, path: str) -> Any:
    req = urllib.request.Request(f"{server.url}{path}", headers={"Authorization": f"Bearer {token}"})
    return json.loads(urllib.request.urlopen(req, timeout=60).read())


def _leader(server: Server, url: str) -> str:
    name, password = f"leader-{secrets.token_hex(3)}", secrets.token_urlsafe(16)
    with connect(url, autocommit=True) as conn:
        create_user(conn, name, password, "leader")
    req = urllib.request.Request(f"{server.url}/auth/token", data=f"username={name}&password={password}".encode(),
                                 method="POST")
    return str(json.loads(urllib.request.urlopen(req, timeout=30).read())["access_token"])


def _planned(settings: Any, first: date, last: date) -> dict[str, int]:
    camau = settings.data_dir / "camau"
    province = build_province(load_geography(camau / "wards_2025.geojson"),
                              load_wards_2019(camau / "wards_2019.geojson"), "cm")
    config, egov, cal = load_config(), load_egov(), load_calendar()
    units = province_units(config, egov, province)
    facts = fact_items(units, egov, SEED, datetime.now(UTC).astimezone(ICT).date())
    dossiers = Planner(config, province, cal.is_business_day, cal.add_business_days, SCALE, SEED)
    feeds = FeedPlanner(egov, units, rooms(fact_items(units, egov, SEED, date.max)), cal.is_business_day,
                        cal.add_business_days, SCALE, SEED)
    out = {"dossiers": 0, "petitions": 0, "documents": 0, "meetings": 0, "unit_facts": len(facts),
           "units": len(units)}
    day = first
    while day <= last:
        out["dossiers"] += len(dossiers.day(day))
        p, d, m = feeds.day(day)
        out["petitions"] += len(p)
        out["documents"] += len(d)
        out["meetings"] += len(m)
        day += timedelta(days=1)
    return out


def test_a_make_up_like_run_feeds_a_living_scorecard(fresh, simulate, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    url, env, server = fresh
    today = datetime.now(UTC).astimezone(ICT).date()
    first, last = today - timedelta(days=45), today - timedelta(days=1)
    summary = simulate("--onestop-only", "--no-live", "--seed", str(SEED), "--onestop-scale", str(SCALE),
                       "--history-from", first.isoformat(), "--history-to", last.isoformat(), "--api-url",
                       server.url, "--onestop-state", str(tmp_path / "onestop.json"), env=env).wait(timeout=600)
    assert summary["rejected"] == 0 and summary["accepted"] == summary["events"] > 0, summary
    for name, feed in summary["feeds"].items():
        assert feed["rejected"] == 0 and feed["accepted"] + feed["duplicates"] == feed["sent"] > 0, (name, feed)

    planned = _planned(settings, first, last)
    with connect(url) as conn:
        stored = {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]
                  for table in ("dossiers", "petitions", "documents", "unit_facts", "units")}
        stored["meetings"] = conn.execute("SELECT count(*) FROM meeting_sessions").fetchone()[0]  # type: ignore[index]
        assert conn.execute("SELECT count(*) FROM dead_letters").fetchone()[0] == 0  # type: ignore[index]
    assert stored == planned

    token = _leader(server, url)
    readiness = _get(server, token, "/readiness?date=2019-12-31")
    assert readiness["facts"]["iso_9001"]["text"]["en"] == "ISO 9001: 19/19 departments, 9/9 districts, 42/101 communes"
    assert readiness["facts"]["meeting_room"]["by_level"]["district"] == {"with": 9, "of": 9}
    assert readiness["facts"]["document_axis"]["by_level"]["commune"] == {"with": 101, "of": 101}
    now = _get(server, token, f"/readiness?date={today.isoformat()}")["facts"]["iso_9001"]["by_level"]
    assert now["district"]["of"] == 0 and now["commune"]["of"] == 64  # after the 2025 reform

    card = _get(server, token, f"/scorecard?level=province&period=range&from={first}&to={last}")["items"]
    assert len(card) == 1
    total = card[0]["total"]
    assert 55 <= total["scaled"] <= 95, total
    assert all(g["available"] > 0 for g in card[0]["groups"]), card[0]["groups"]
    ratio = {i["id"]: i["ratio"] for i in card[0]["indicators"]}
    share = load_config().index_year(today.year)
    assert ratio["1.4"] == pytest.approx(share["synced"], abs=0.03)
    assert ratio["4.6"] == pytest.approx(share["population_data"], abs=0.05)
    assert ratio["2.1"] > 0.9
    assert None not in (ratio["1.1"], ratio["1.2"], ratio["1.3"], ratio["3.4"], ratio["4.1"], ratio["5.1"])
