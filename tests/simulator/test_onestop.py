"""The simulated one-stop-shop: its figures (the 2019 report's online counts exactly, its postal shares), its
events (valid for the dossier validator and the generated JSON Schema), and a real run against the API: history
through ``POST /dossiers/events`` with an integration API key, nothing refused, the KPIs the API then computes
equal to what was planned, live events and citizens' Open311 reports."""

from __future__ import annotations

import json
import urllib.request
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from jsonschema import Draft202012Validator

from ingest.simulator.geography import load_geography
from ingest.simulator.onestop import REFORM, Commune, Planner, Province, event, events_of, load_config
from ingest.simulator.onestop_setup import build_province, load_wards_2019
from ops_center.dossiers.calendar import load_calendar
from ops_center.dossiers.models import parse_event
from ops_center.dossiers.schema import event_schema
from ops_center.settings import LOCAL_TZ as ICT
from tests.live.conftest import (
    live_server,  # noqa: F401 - the API in uvicorn (fixture)
    tag,
)

CAL = load_calendar()
PROVINCE = Province(tuple(Commune(f"u-{i}", f"W25-{i}", ((f"W19-{i}", 0.7), (f"W19-{i + 1}", 0.3)) if i < 40
                                  else ()) for i in range(64)),
                    tuple(f"W19-{i}" for i in range(101)), tuple(f"W25-{i}" for i in range(64)))


def planner(scale: float, seed: int = 7) -> Planner:
    return Planner(load_config(), PROVINCE, CAL.is_business_day, CAL.add_business_days, scale, seed)


def year(p: Planner, y: int) -> list:  # type: ignore[type-arg]
    out = []
    d = date(y, 1, 1)
    while d.year == y:
        out += p.day(d)
        d += timedelta(days=1)
    return out


def test_report_years_reproduce_the_online_counts() -> None:
    """20,703 dossiers submitted online in 2019 against 12,965 in 2018 (exactly at scale 1; floor at a scale)."""
    for scale, want in ((1.0, {2018: 12965, 2019: 20703}), (0.05, {2018: 648, 2019: 1035})):
        p = planner(scale)
        for y, n in want.items():
            got = Counter(d.channel for d in year(p, y))  # Decree 42's names (were online_l3/online_l4)
            assert got["online_partial"] + got["online_full"] == n, (scale, y, got)


def test_channel_mix_and_punctuality() -> None:
    dossiers = year(planner(0.2), 2019)
    offered = [d for d in dossiers if d.procedure.post]
    assert sum(d.channel == "postal" for d in offered) / len(offered) == pytest.approx(0.3801, abs=0.01)
    returned = [d for d in offered if d.returned_at is not None]
    assert sum(d.return_channel == "postal" for d in returned) / len(returned) == pytest.approx(0.4483, abs=0.02)
    late = [d for d in dossiers if (d.resolved_at - sum((b - a for a, b in d.supplements), timedelta(0)))
            .astimezone(ICT).date() > CAL.due_date(d.received_at, d.procedure.days)]  # the citizen's time is not late
    assert 0.02 < len(late) / len(dossiers) < 0.06
    assert all(d.channel == "counter" or d.channel == "postal" for d in dossiers if d.procedure.online_level < 3)
    assert all(not d.unit.startswith("u-") or d.ward_set == "camau-2019" for d in dossiers)
    after = year(planner(0.2), 2025)
    online = sum(d.channel.startswith("online") for d in after) / len(after)
    assert online > 0.5  # online growing
    assert {d.ward_set for d in after if d.received_at.date() >= REFORM} == {"camau-2025"}
    assert not any(d.unit in {f"u-{i}" for i in range(40, 64)} for d in dossiers)  # Bạc Liêu: not before 2025


def test_events_are_valid_and_consistent() -> None:
    validator = Draft202012Validator(event_schema())
    now = datetime(2030, 1, 1, tzinfo=UTC)
    for d in planner(0.05).day(date(2019, 3, 12)):
        evs = events_of(d)
        assert [t for t, _ in evs] == sorted(t for t, _ in evs)
        for _, ev in evs:
            validator.validate(ev)
            parse_event(ev, now=now)
    not_returned = next(x for x in planner(0.05).day(date(2019, 3, 12)) if x.returned_at is None)
    with pytest.raises(ValueError):
        event(not_returned, "returned")


def get(server, key: str, path: str):  # type: ignore[no-untyped-def]
    req = urllib.request.Request(f"{server.url}{path}", headers={"X-API-Key": key})
    return json.loads(urllib.request.urlopen(req, timeout=30).read())


def test_history_and_live_through_the_api(simulate, live_server, login, camau, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    prefix = f"t{tag()}"
    state = tmp_path / "onestop.json"
    owner = login("admin").username  # the simulator's API key belongs to an enabled admin
    args = ["--onestop-only", "--prefix", prefix, "--seed", "11", "--onestop-scale", "0.02", "--history-from",
            "2019-03-01", "--history-to", "2019-04-30", "--no-live", "--api-url", live_server.url,
            "--onestop-state", str(state), "--onestop-key-owner", owner]
    summary = simulate(*args).wait(timeout=240)
    assert summary["rejected"] == 0 and summary["accepted"] == summary["events"] > 0, summary
    assert oct(state.stat().st_mode & 0o777) == "0o600"
    # what the API computes from what was sent equals what was planned
    geo = load_geography(settings.data_dir / "camau" / "wards_2025.geojson")
    province = build_province(geo, load_wards_2019(settings.data_dir / "camau" / "wards_2019.geojson"), prefix)
    p = Planner(load_config(), province, CAL.is_business_day, CAL.add_business_days, 0.02, 11)
    planned = [d for day in (date(2019, 3, 1) + timedelta(n) for n in range(61)) for d in p.day(day)]
    communes = sorted({d.unit for d in planned if d.unit.startswith(prefix)})
    leader = login("leader")
    req = urllib.request.Request(
        f"{live_server.url}/kpis/dossiers?level=unit&period=year&from=2019-03-01&to=2019-04-30&"
        + "&".join(f"code={c}" for c in communes), headers=leader.headers)
    items = json.loads(urllib.request.urlopen(req, timeout=30).read())["items"]
    got = sum(i["received"]["online_l3"] + i["received"]["online_l4"] for i in items)
    assert got == sum(d.channel.startswith("online") and d.unit.startswith(prefix) for d in planned)
    assert sum(i["received"]["total"] for i in items) == sum(d.unit.startswith(prefix) for d in planned)

    # again: only duplicates; then live with citizens' reports
    again = simulate(*args).wait(timeout=240)
    assert again["accepted"] == 0 and again["duplicates"] == again["events"] == summary["events"]
    live = simulate("--onestop-only", "--prefix", prefix, "--seed", "11", "--onestop-scale", "0.02",
                    "--history-days", "1", "--duration", "12", "--citizen-reports", "3600", "--api-url",
                    live_server.url, "--onestop-state", str(state), "--onestop-key-owner", owner).wait(timeout=240)
    assert live["citizen_reports"] >= 2 and live["rejected"] == 0, live
    requests = get(live_server, "x", "/open311/v2/requests.json")
    assert any(r.get("description") for r in requests)


def test_the_key_needs_an_enabled_admin_owner(simulate, live_server, login, camau, tmp_path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """API keys belong to an enabled admin (h-auth): an operator, or an account that does not exist, cannot own the
    simulator's key; the run stops before sending anything, naming the option and the account."""
    for owner in (login("operator").username, f"nobody-{tag()}"):
        run = simulate("--onestop-only", "--no-live", "--history-days", "1", "--api-url", live_server.url,
                       "--onestop-state", str(tmp_path / "onestop.json"), "--onestop-key-owner", owner)
        out, _ = run.proc.communicate(timeout=120)
        assert run.proc.returncode == 2 and out == b""
        assert f"--onestop-key-owner {owner!r}" in run.log.read_text()
