"""The report's "x of y" answers for any date: "ISO: 19/19 departments, 9/9 districts, 42/101 communes".

For a day ``D`` (and flows over ``[first, D]``, by default from the first of January of D's year):

- per fact (ISO 9001, online meeting room, document exchange axis, national portal, public administration center,
  electronic certified copies): per level (provincial departments, district committees, commune level) the units
  that have it on ``D`` out of the units of that level that exist on ``D``; for the commune level also per parent
  (a district's communes: "TP. Cà Mau 1/9");
- procedures offered online (partial, full) and by post, in the catalogue on ``D`` (made public by then, or with no
  publication data);
- documents exchanged electronically, meeting sessions, and dossiers received online, over the window and the same
  window a year earlier.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, timedelta
from typing import Any, Final

from ops_center.db import Conn
from ops_center.devices import lookups as device_lookups
from ops_center.dossiers import kpis
from ops_center.dossiers.procedures import all_procedures
from ops_center.readiness import exchange, facts

LEVELS: Final = ("province", "department", "district", "commune")
REPORT_LEVELS: Final = ("department", "district", "commune")
"""The levels of the report's sentences ("19/19 departments, 9/9 districts, 42/101 communes")."""
LEVEL_NAMES: Final = {
    "province": ("province", "tỉnh"),
    "department": ("departments", "sở, ban, ngành"),
    "district": ("districts", "huyện, thành phố"),
    "commune": ("communes", "xã, phường, thị trấn"),
}
REPORTED: Final = ("iso_9001", "meeting_room", "document_axis", "national_portal", "admin_center",
                   "e_certified_copy")


def _year_before(d: date) -> date:
    return d.replace(year=d.year - 1) if not (d.month == 2 and d.day == 29) else d.replace(year=d.year - 1, day=28)


def fact_figures(conn: Conn, day: date) -> dict[str, Any]:
    units = facts.existing_units(conn, day)
    have = facts.facts_on(conn, day, REPORTED)
    names = device_lookups.unit_names(conn)
    out: dict[str, Any] = {}
    for fact in REPORTED:
        by_level = {lvl: {"with": 0, "of": 0} for lvl in LEVELS}
        by_parent: dict[str, dict[str, Any]] = defaultdict(lambda: {"with": 0, "of": 0})
        for code, level, parent in units:
            if level not in by_level:
                continue
            yes = have.get(code, {}).get(fact, False)
            by_level[level]["of"] += 1
            by_level[level]["with"] += yes
            if level == "commune" and parent:
                by_parent[parent]["of"] += 1
                by_parent[parent]["with"] += yes
        en, vi = facts.LABELS[fact]
        out[fact] = {
            "label": {"en": en, "vi": vi}, "by_level": by_level,
            "communes_by_parent": [{"code": p, "name": names.get(p, p), **v} for p, v in sorted(by_parent.items())],
            "text": {"en": f"{en}: " + ", ".join(f"{by_level[lvl]['with']}/{by_level[lvl]['of']} "
                                                 f"{LEVEL_NAMES[lvl][0]}" for lvl in REPORT_LEVELS),
                     "vi": f"{vi[:1].upper()}{vi[1:]}: " + "; ".join(
                         f"{by_level[lvl]['with']}/{by_level[lvl]['of']} {LEVEL_NAMES[lvl][1]}"
                         for lvl in REPORT_LEVELS)},
        }
    return out


def procedure_figures(conn: Conn, day: date) -> dict[str, int]:
    in_force = [p for p in all_procedures(conn) if p.public_date is None or p.public_date <= day]
    services = Counter(p.online_service for p in in_force)
    return {"total": len(in_force), "online_partial": services["partial"], "online_full": services["full"],
            "online": services["partial"] + services["full"], "by_post": sum(p.offered_by_post for p in in_force)}


def flows(conn: Conn, first: date, stop: date) -> dict[str, Any]:
    """Documents exchanged, meeting sessions and dossiers received (online) on local dates ``[first, stop)``."""
    docs = exchange.documents_between(conn, first, stop)
    meetings = exchange.meetings_between(conn, first, stop)
    pairs: Counter[str] = Counter()
    for a, b, _, n in docs:
        pairs[f"{a}->{b}"] += n
    items = kpis.compute(conn, "province", "year", first, stop) if stop > first else []
    received = sum(i["received"]["total"] for i in items)
    online = sum(i["received"]["online_l3"] + i["received"]["online_l4"] for i in items)
    return {
        "from": first.isoformat(), "to": (stop - timedelta(days=1)).isoformat(),
        "documents": {"exchanged": sum(n for *_, n in docs), "via_axis": sum(n for *_, v, n in docs if v),
                      "by_levels": dict(sorted(pairs.items()))},
        "meetings": {"sessions": sum(n for *_, n in meetings), "units": len({u for u, *_ in meetings})},
        "dossiers": {"received": received, "received_online": online,
                     "online_partial": sum(i["received"]["online_l3"] for i in items),
                     "online_full": sum(i["received"]["online_l4"] for i in items)},
    }


def readiness(conn: Conn, day: date, first: date | None = None) -> dict[str, Any]:
    """The readiness answer for ``day`` (flows over ``[first, day]``, and the same window a year earlier)."""
    first = first or day.replace(month=1, day=1)
    if first > day:
        raise ValueError(f"from: {first} is after the date {day}")
    stop = day + timedelta(days=1)
    return {
        "date": day.isoformat(),
        "facts": fact_figures(conn, day),
        "procedures": procedure_figures(conn, day),
        "flows": flows(conn, first, stop),
        "flows_year_before": flows(conn, _year_before(first), _year_before(day) + timedelta(days=1)),
    }
