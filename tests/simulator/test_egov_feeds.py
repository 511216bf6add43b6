"""The simulated e-government systems' inputs to the scorecard, without a server: the catalogue (every entry valid
for the catalogue's validator, the 2019 report's online and postal counts, publication shares), the units and their
facts (the report's "x of y" on 2019-12-31, the 2025 reform), the dossiers' index facts (each share as configured,
supplements, outcomes, every event valid for the validator and the JSON Schema) and the petitions, documents and
meetings (valid for their feeds' parsers and JSON Schemas, deterministic)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from ingest.simulator.fleet import UNITS as DEVICE_OWNERS
from ingest.simulator.geography import load_geography
from ingest.simulator.onestop import Planner, events_of, load_config
from ingest.simulator.onestop_catalogue import catalogue
from ingest.simulator.onestop_feeds import DOCUMENTS, MEETINGS, PETITIONS, FeedPlanner, items_of, rooms
from ingest.simulator.onestop_setup import build_province, load_wards_2019
from ingest.simulator.onestop_units import SimUnit, fact_items, load_egov, province_units
from ops_center.dossiers import procedures
from ops_center.dossiers.calendar import load_calendar
from ops_center.dossiers.models import parse_event
from ops_center.dossiers.schema import event_schema
from ops_center.petitions import schema as petition_schema
from ops_center.petitions.models import parse_event as parse_petition
from ops_center.readiness import exchange
from ops_center.readiness import schema as readiness_schema
from ops_center.readiness.facts import parse_fact
from ops_center.settings import Settings
from tests.simulator.test_onestop import PROVINCE

CAL = load_calendar()
SCHEMAS = {PETITIONS: Draft202012Validator(petition_schema.event_schema()),
           **{feed: Draft202012Validator(readiness_schema.record_schema(feed)) for feed in (DOCUMENTS, MEETINGS,
                                                                                           "facts")}}
CONFIG = load_config()
EGOV = load_egov()
TODAY = date(2026, 12, 6)
NOW = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def units(settings: Settings) -> tuple[SimUnit, ...]:
    camau = settings.data_dir / "camau"
    geo = load_geography(camau / "wards_2025.geojson")
    province = build_province(geo, load_wards_2019(camau / "wards_2019.geojson"), "tx")
    return province_units(CONFIG, EGOV, province)


def _on(facts: list[dict[str, Any]], units: tuple[SimUnit, ...], fact: str, day: date) -> dict[str, tuple[int, int]]:
    """{level: (with, of)} of a fact on a day, from the fact changes (the newest on or before the day) and the units
    existing that day — the reading ``ops_center.readiness`` makes."""
    latest: dict[str, tuple[str, bool]] = {}
    for f in facts:
        if f["fact"] == fact and f["since"] <= day.isoformat() and f["since"] >= latest.get(f["unit"], ("",))[0]:
            latest[f["unit"]] = (f["since"], f.get("value", True))
    out: dict[str, tuple[int, int]] = {}
    for u in units:
        if u.exists_on(day):
            w, n = out.get(u.level, (0, 0))
            out[u.level] = (w + latest.get(u.code, ("", False))[1], n + 1)
    return out


def test_the_catalogue_has_the_reports_counts_and_valid_entries() -> None:
    entries = catalogue(CONFIG, 2025, TODAY, CAL.add_business_days)
    procs = [procedures.validate(e, e["code"]) for e in entries]
    assert len(procs) == CONFIG.catalogue["total"] == len({p.code for p in procs})
    services = Counter(p.online_service for p in procs)
    assert (services["full"], services["partial"], sum(p.offered_by_post for p in procs)) == (137, 457, 698)
    assert all(p.full_online_eligible == (p.online_service == "full") for p in procs)
    listed = {p.code for p in CONFIG.procedures}
    assert listed <= {p.code for p in procs}
    published = [p for p in procs if p.decision_date is not None]
    assert len(published) == len(procs)
    assert all(p.decision_date <= TODAY for p in published)  # type: ignore[operator]
    assert all(p.public_date is None or p.public_date <= TODAY for p in published)  # nothing from the future
    in_time = sum(CAL.add_business_days(p.decision_date, 5) <= p.legal_effective_date for p in published)  # type: ignore[arg-type,operator]
    public = [p for p in published if p.public_date is not None]
    assert len(public) > 0.97 * len(published)  # not yet public: only the latest decisions
    public_in_time = sum(p.public_date <= CAL.add_business_days(p.decision_date, 5) for p in public)  # type: ignore[arg-type,operator]
    whole = sum(len(p.parts) == 7 for p in published)
    assert in_time / len(published) == pytest.approx(0.9, abs=0.03)
    assert public_in_time / len(public) == pytest.approx(0.85, abs=0.03)
    assert whole / len(published) == pytest.approx(0.96, abs=0.02)
    decided_this_year = sum(p.decision_date.year == 2026 for p in published)  # type: ignore[union-attr]
    assert 200 < decided_this_year < 1000  # every period of the history has publications (1.1, 1.2)
    assert catalogue(CONFIG, 2025, TODAY, CAL.add_business_days) == entries  # pure


def test_units_and_the_reports_figures_on_2019_12_31(units: tuple[SimUnit, ...]) -> None:
    facts = fact_items(units, EGOV, 2025, TODAY)
    for f in facts:
        parse_fact(f)
        SCHEMAS["facts"].validate(f)
    assert all(f["since"] <= TODAY.isoformat() for f in facts)
    day = date(2019, 12, 31)
    assert _on(facts, units, "iso_9001", day) | {"province": (0, 1)} == {
        "province": (0, 1), "department": (19, 19), "district": (9, 9), "commune": (42, 101)}
    rooms_2019 = _on(facts, units, "meeting_room", day)
    assert rooms_2019["district"] == (9, 9)
    city = [u for u in units if u.district == "Thành phố Cà Mau"]
    has_room = rooms(facts)
    assert sum(has_room(u.code, day) for u in city) == 1
    for name in ("Huyện Phú Tân", "Huyện Ngọc Hiển", "Huyện Cái Nước"):  # equipped in 2019, not before
        mine = [u for u in units if u.district == name]
        assert all(has_room(u.code, day) for u in mine) and not any(has_room(u.code, date(2018, 12, 31))
                                                                    for u in mine)
    assert _on(facts, units, "document_axis", day)["commune"] == (101, 101)
    assert _on(facts, units, "national_portal", day)["province"] == (1, 1)
    # `make up` registers the device fleet's owners too: no 20th department
    assert {code for code, _, level in DEVICE_OWNERS if level == "department"} <= set(CONFIG.departments)
    after = _on(facts, units, "iso_9001", date(2025, 7, 1))  # the reform: no districts, 64 communes
    assert "district" not in after and after["commune"][1] == 64 and after["department"][1] == 13
    assert fact_items(units, EGOV, 2025, TODAY) == facts


def test_dossiers_carry_the_index_facts_as_configured() -> None:
    p = Planner(CONFIG, PROVINCE, CAL.is_business_day, CAL.add_business_days, 0.2, 5)
    dossiers = [x for d in (date(2025, 1, 1) + timedelta(n) for n in range(365)) for x in p.day(d)]
    share = CONFIG.index_year(2025)
    n = len(dossiers)
    for flag in ("digitised", "reused_data", "from_personal_store", "population_data"):
        assert sum(flag in d.flags for d in dossiers) / n == pytest.approx(share[flag], abs=0.02), flag
    assert sum(d.synced_at is not None for d in dossiers) / n == pytest.approx(share["synced"], abs=0.02)
    assert all(("fee_due" in d.flags) == d.procedure.has_fees for d in dossiers)
    assert all(d.paid_at is None or "fee_due" in d.flags for d in dossiers)
    outcomes = Counter(d.outcome for d in dossiers)
    assert outcomes["refused"] / n == pytest.approx(CONFIG.lifecycle.refused, abs=0.005)
    assert outcomes["withdrawn"] / n == pytest.approx(CONFIG.lifecycle.withdrawn, abs=0.005)
    assert all(d.returned_at is None for d in dossiers if d.outcome != "granted")
    granted = [d for d in dossiers if d.outcome == "granted"]
    assert sum(d.electronic_result for d in granted) / len(granted) == pytest.approx(share["e_result"], abs=0.02)
    assert not any(d.electronic_result or d.result_synced_at for d in dossiers if d.outcome != "granted")
    with_time = [d for d in dossiers if d.procedure.days > 0]
    asked = [d for d in with_time if d.supplements]
    assert len(asked) / len(with_time) == pytest.approx(CONFIG.lifecycle.supplement, abs=0.01)
    assert 0 < sum(len(d.supplements) == 2 for d in asked) < len(asked) * 0.15
    rated = [d for d in dossiers if d.rating]
    assert len(rated) / n == pytest.approx(share["rated"], abs=0.02)
    assert Counter(d.rating for d in rated)["satisfied"] / len(rated) == pytest.approx(0.965, abs=0.01)
    assert {d.channel for d in dossiers} == {"online_partial", "online_full", "counter", "postal"}


def test_every_event_is_valid_and_in_order() -> None:
    validator = Draft202012Validator(event_schema())
    p = Planner(CONFIG, PROVINCE, CAL.is_business_day, CAL.add_business_days, 0.3, 9)
    kinds: Counter[str] = Counter()
    for day in (date(2024, 3, 12), date(2025, 11, 4)):
        for d in p.day(day):
            evs = events_of(d)
            assert [t for t, _ in evs] == sorted(t for t, _ in evs)
            for _, ev in evs:
                validator.validate(ev)
                parse_event(ev, now=NOW)
                kinds[ev["type"]] += 1
    assert set(kinds) == {"received", "synced", "paid", "supplement_requested", "supplement_received", "resolved",
                          "returned", "result_synced", "rated"}, kinds


def test_petitions_documents_and_meetings(units: tuple[SimUnit, ...]) -> None:
    facts = fact_items(units, EGOV, 2025, date.max)
    planner = FeedPlanner(EGOV, units, rooms(facts), CAL.is_business_day, CAL.add_business_days, 1.0, 3)
    days = [date(2019, 11, 1) + timedelta(n) for n in range(30)] + [date(2026, 3, 1) + timedelta(n) for n in range(30)]
    got: Counter[str] = Counter()
    codes = {u.code: u for u in units}
    for d in days:
        petitions, documents, meetings = planner.day(d)
        assert all(codes[x.unit].exists_on(d) for x in petitions)
        assert all(codes[x.from_unit].exists_on(d) and codes[x.to_unit].exists_on(d) for x in documents)
        assert all(rooms(facts)(m.unit, d) for m in meetings)
        for _, feed, item in items_of((petitions, documents, meetings)):
            got[feed] += 1
            if feed == PETITIONS:
                parse_petition(item, now=NOW)
            else:
                exchange.parse_record(exchange.FEEDS[feed], item, unit_from_topic=None, now=NOW)
            SCHEMAS[feed].validate(item)
        assert planner.day(d) == (petitions, documents, meetings)
    business = sum(CAL.is_business_day(d) for d in days)
    assert got[DOCUMENTS] == pytest.approx(2 * 600 * business, rel=0.05)  # sent, then received
    assert got[PETITIONS] > 2 * 4 * business * 0.8
    assert 2 * 3 * business < got[MEETINGS] < 2 * 15 * business
