"""Dated unit facts: the only writer of ``unit_facts`` (migration 0072).

A fact is a change from a date on: ``{"unit": "SO-TU-PHAP", "fact": "iso_9001", "since": "2019-03-01", "value": true}``
(``value`` defaults to true; false ends it). The fact on a day is the newest change on or before that day; a unit
with no change for a fact does not have it. ``exists`` says when a unit exists (the 2025 reform abolished districts
and merged communes): a unit with no ``exists`` change exists on every day; before its first change it is the
opposite of that change (a unit that ceases on a date existed before it). Changes are idempotent by
(unit, fact, since): the same change again is a duplicate, a different value a conflict (the first stands).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Any, Final

from ops_center.db import Conn
from ops_center.devices import lookups as device_lookups
from ops_center.dossiers.models import (
    BAD_VALUE,
    CODE_RE,
    CONFLICT,
    UNKNOWN_UNIT,
    Rejected,
    shown,
    string_field,
)
from ops_center.feeds import FeedResult, as_object, check_size, parse_items, text, write_dead_letters

FACTS: Final = ("exists", "iso_9001", "meeting_room", "document_axis", "national_portal", "admin_center",
                "e_certified_copy")
LABELS: Final = {
    "iso_9001": ("ISO 9001", "áp dụng ISO 9001"),
    "meeting_room": ("online meeting room", "phòng họp trực tuyến"),
    "document_axis": ("document exchange axis", "kết nối trục liên thông văn bản"),
    "national_portal": ("National Public Service Portal", "kết nối Cổng Dịch vụ công quốc gia"),
    "admin_center": ("public administration center", "Trung tâm Hành chính công"),
    "e_certified_copy": ("electronic certified copies", "chứng thực bản sao điện tử từ bản chính"),
    "exists": ("unit exists", "đơn vị đang tồn tại"),
}
HTTP_SOURCE: Final = "http:/readiness/facts"
FIELDS: Final = ("unit", "fact", "since", "value", "note")


def parse_fact(doc: Any) -> tuple[str, str, date, bool, str]:
    doc = as_object(doc, FIELDS, ("unit", "fact", "since"), "fact")
    unit = string_field(doc, "unit", CODE_RE)
    fact = string_field(doc, "fact", choices=FACTS)
    raw = doc["since"]
    try:
        since = date.fromisoformat(raw) if type(raw) is str and len(raw) == 10 else None
    except ValueError:
        since = None
    if since is None or not date(1990, 1, 1) <= since <= date(2100, 12, 31):
        raise Rejected(BAD_VALUE, f"since: {shown(raw)} is not a date (YYYY-MM-DD) between 1990 and 2100",
                       "since", raw)
    value = doc.get("value", True)
    if type(value) is not bool:
        raise Rejected(BAD_VALUE, f"value: expected true or false, got {shown(value)}", "value", value)
    assert unit is not None and fact is not None
    return unit, fact, since, value, text(doc, "note") or ""


def ingest_facts(conn: Conn, items: list[Any], source: str = HTTP_SOURCE, *, record_rejects: bool = True
                 ) -> FeedResult:
    """Record fact changes (one transaction); refused items are dead-lettered with their reason (unless
    ``record_rejects=False``: replays)."""
    check_size(items)
    result = FeedResult()
    parsed, dead = parse_items(items, parse_fact)
    with conn.transaction():
        known = device_lookups.known_units(conn, sorted({p[0] for _, p in parsed}))
        for i, (unit, fact, since, value, note) in parsed:
            if unit not in known:
                dead.append((i, items[i], Rejected(UNKNOWN_UNIT, f"unit: {shown(unit)} is not a known unit",
                                                   "unit", unit)))
                continue
            row = conn.execute(
                "INSERT INTO unit_facts (unit_code, fact, since, value, note, source) VALUES (%s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (unit_code, fact, since) DO UPDATE SET unit_code = EXCLUDED.unit_code "
                "RETURNING value, (xmax = 0) AS inserted", (unit, fact, since, value, note, source)).fetchone()
            assert row is not None
            if row[1]:
                result.accepted += 1
            elif row[0] == value:
                result.duplicates += 1
            else:
                dead.append((i, items[i], Rejected(
                    CONFLICT, f"value: {unit} {fact} since {since} is already {row[0]}; the first one stands",
                    "value", value)))
        result.rejected = [(i, r.reason, r.detail) for i, _, r in sorted(dead, key=lambda d: d[0])]
        if record_rejects:
            write_dead_letters(conn, source, dead)
    return result


def facts_on(conn: Conn, day: date, facts: tuple[str, ...] = FACTS) -> dict[str, dict[str, bool]]:
    """``{unit: {fact: value}}`` on ``day`` for units with a change of those facts on or before it."""
    rows = conn.execute(
        "SELECT DISTINCT ON (unit_code, fact) unit_code, fact, value FROM unit_facts WHERE since <= %s "
        "AND fact = ANY(%s) ORDER BY unit_code, fact, since DESC", (day, list(facts))).fetchall()
    out: dict[str, dict[str, bool]] = defaultdict(dict)
    for unit, fact, value in rows:
        out[str(unit)][str(fact)] = bool(value)
    return dict(out)


def units_with(conn: Conn, fact: str, day: date) -> set[str]:
    """The units that have ``fact`` on ``day``."""
    return {u for u, f in facts_on(conn, day, (fact,)).items() if f.get(fact)}


def units_with_on(conn: Conn, fact: str, days: Sequence[date]) -> dict[date, set[str]]:
    """``units_with`` for several days in one statement."""
    wanted = sorted(set(days))
    out: dict[date, set[str]] = {d: set() for d in wanted}
    rows = conn.execute(
        "SELECT x.day, f.unit_code FROM unnest(%s::date[]) AS x(day) CROSS JOIN LATERAL (SELECT DISTINCT ON "
        "(unit_code) unit_code, value FROM unit_facts WHERE fact = %s AND since <= x.day ORDER BY unit_code, "
        "since DESC) f WHERE f.value", (wanted, fact)).fetchall()
    for day, unit in rows:
        out[day].add(str(unit))
    return out


def existing_units(conn: Conn, day: date) -> list[tuple[str, str, str | None]]:
    """``(code, level, parent_code)`` of the units that exist on ``day``: no ``exists`` change at all, or the newest
    one on or before the day is true, or (before its first change) the first change is its end (false)."""
    units = device_lookups.unit_tree(conn)
    rows = conn.execute(
        "SELECT u.code, u.level, u.parent_code FROM unnest(%s::text[], %s::text[], %s::text[]) "
        "AS u(code, level, parent_code) WHERE coalesce("
        "(SELECT f.value FROM unit_facts f WHERE f.unit_code = u.code AND f.fact = 'exists' AND f.since <= %s "
        "ORDER BY f.since DESC LIMIT 1), "
        "(SELECT NOT f.value FROM unit_facts f WHERE f.unit_code = u.code AND f.fact = 'exists' "
        "ORDER BY f.since LIMIT 1), true) ORDER BY u.code",
        ([u[0] for u in units], [u[1] for u in units], [u[2] for u in units], day)).fetchall()
    return [(str(c), str(lvl), p) for c, lvl, p in rows]


def list_facts(conn: Conn, unit: str | None, after: tuple[str, str, str], limit: int) -> list[dict[str, Any]]:
    """Fact changes by (unit, fact, since), optionally of one unit."""
    rows = conn.execute(
        "SELECT unit_code, fact, since, value, note FROM unit_facts WHERE (unit_code, fact, since::text) > "
        "(%s, %s, %s) AND (%s::text IS NULL OR unit_code = %s) ORDER BY unit_code, fact, since LIMIT %s",
        (*after, unit, unit, limit)).fetchall()
    return [{"unit": u, "fact": f, "since": s.isoformat(), "value": v, "note": n} for u, f, s, v, n in rows]
