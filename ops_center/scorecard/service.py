"""The scorecard answers the API serves: per level and period, units ranked, the province against the last period,
the trend by month beside the same month a year earlier, per-ward values for the map. All read the rollups through
``gather`` and score with the definition in force at each period's start."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ops_center.db import Conn
from ops_center.dossiers.calendar import BusinessCalendar, local_date
from ops_center.levels import LEVELS, extra, group_names, public_code, sort_key
from ops_center.scorecard import gather
from ops_center.scorecard.definition import definition_for
from ops_center.scorecard.periods import Period, partition, previous, year_before
from ops_center.scorecard.scoring import Card, card

MAX_DAYS = 3 * 366


class ScorecardError(ValueError):
    """A request that cannot be answered; the message names the parameter."""


def window(first: date, last: date, now: datetime | None = None) -> Period:
    """``[first, last]`` as a period, ending today at the latest (a period still running is scored as of today)."""
    if last < first:
        raise ScorecardError(f"to: {last} is before from {first}")
    if (last - first).days >= MAX_DAYS:
        raise ScorecardError(f"to: a window of {(last - first).days + 1} days; at most {MAX_DAYS}")
    today = local_date(now or datetime.now(UTC))
    stop = min(last, today) + timedelta(days=1)
    if stop <= first:
        raise ScorecardError(f"from: {first} is in the future")
    return Period(first, stop)


def _check_level(level: str) -> None:
    if level not in LEVELS:
        raise ScorecardError(f"level: {level!r} is not one of {', '.join(LEVELS)}")


def cards(conn: Conn, level: str, periods: list[Period], calendar: BusinessCalendar,
          codes: Sequence[str] | None = None) -> dict[tuple[int, str, str], Card]:
    """The scorecard of every active group in every period."""
    _check_level(level)
    defs = [definition_for(p.first) for p in periods]
    counts = gather.counts(conn, periods, level, calendar, codes=codes,
                           publication_days=defs[0].publication_days if defs else 5)
    return {key: card(defs[key[0]], c) for key, c in counts.items()}


def _item(level: str, key: tuple[int, str, str], c: Card, period: Period, names: dict[tuple[str, str], str],
          version: str) -> dict[str, Any]:
    _, gset, gcode = key
    item: dict[str, Any] = {"level": level, "code": public_code(gcode), "name": names.get((gset, gcode), gcode),
                            **period.as_json(), "definition": version, **c.as_json()}
    item.update(extra(level, gset, gcode))
    return item


def scorecard(conn: Conn, level: str, period: str, w: Period, calendar: BusinessCalendar,
              codes: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Items by group (codes first, then the not-applicable and unknown groups), then period."""
    periods = partition(w.first, w.stop, period)
    result = cards(conn, level, periods, calendar, codes)
    names = group_names(conn, level, sorted({(k[1], k[2]) for k in result}))
    order = sorted(result, key=lambda k: (sort_key((k[1], k[2])), k[0]))
    versions = [definition_for(p.first).version for p in periods]
    return [_item(level, k, result[k], periods[k[0]], names, versions[k[0]]) for k in order]


def ranking(conn: Conn, level: str, w: Period, calendar: BusinessCalendar) -> list[dict[str, Any]]:
    """The groups of a level ranked by total scaled to 100 (highest first; those without data last), one window."""
    result = cards(conn, level, [w], calendar)
    names = group_names(conn, level, sorted({(k[1], k[2]) for k in result}))
    order = sorted(result, key=lambda k: (result[k].scaled is None, -(result[k].scaled or 0.0), sort_key(
        (k[1], k[2]))))
    out = []
    for rank, k in enumerate(order, start=1):
        c = result[k]
        out.append({"rank": rank, "level": level, "code": public_code(k[2]), "name": names.get((k[1], k[2]), k[2]),
                    "total": c.total, "groups": [{"id": g["id"], "earned": g["earned"], "available": g["available"]}
                                                 for g in c.groups]})
    return out


def _province(conn: Conn, periods: list[Period], calendar: BusinessCalendar) -> list[Card | None]:
    result = cards(conn, "province", periods, calendar)
    by_tag = {k[0]: c for k, c in result.items()}
    return [by_tag.get(i) for i in range(len(periods))]


def _summary(c: Card | None) -> dict[str, Any] | None:
    if c is None:
        return None
    return {"total": c.total, "groups": [{"id": g["id"], "earned": g["earned"], "available": g["available"],
                                          "points": g["points"]} for g in c.groups]}


def compare(conn: Conn, period: str, w: Period, calendar: BusinessCalendar) -> dict[str, Any]:
    """The province's total and groups in ``w`` against the period before."""
    before = previous(w, period)
    now_card, then_card = _province(conn, [w, before], calendar)
    change: dict[str, Any] = {"total": None, "groups": {}}
    if now_card is not None and then_card is not None:
        if now_card.scaled is not None and then_card.scaled is not None:
            change["total"] = round(now_card.scaled - then_card.scaled, 2)
        for a, b in zip(now_card.groups, then_card.groups, strict=True):
            if a["earned"] is not None and b["earned"] is not None:
                change["groups"][a["id"]] = round(a["earned"] - b["earned"], 2)
    return {"current": {**w.as_json(), **(_summary(now_card) or {})},
            "previous": {**before.as_json(), **(_summary(then_card) or {})}, "change": change}


def _point(c: Card | None) -> dict[str, Any] | None:
    if c is None:
        return None
    return {"total": c.total["scaled"], "earned": c.total["earned"], "available": c.total["available"],
            "groups": {g["id"]: g["earned"] for g in c.groups},
            "indicators": {i["id"]: i["ratio"] for i in c.indicators}}


def trend(conn: Conn, level: str, code: str | None, w: Period, calendar: BusinessCalendar) -> list[dict[str, Any]]:
    """By month over ``w``: the group's scorecard summary beside the same month a year earlier."""
    _check_level(level)
    months = partition(w.first, w.stop, "month")
    periods = months + [year_before(m) for m in months]
    codes = [code] if code and level != "province" else None
    result = cards(conn, level, periods, calendar, codes)
    by_tag: dict[int, Card] = {}
    for (tag, _gset, gcode), c in result.items():
        if level == "province" or public_code(gcode) == code:
            by_tag[tag] = c
    n = len(months)
    return [{"month": m.first.strftime("%Y-%m"), **m.as_json(), "value": _point(by_tag.get(i)),
             "year_before": {**periods[n + i].as_json(), "value": _point(by_tag.get(n + i))}}
            for i, m in enumerate(months)]


def by_ward(conn: Conn, set_name: str, level: str, w: Period, calendar: BusinessCalendar
            ) -> dict[str, dict[str, Any]]:
    """Map layer: per ward (or district) code of ``set_name``, the total scaled to 100 and every indicator's ratio
    over ``w`` (dossiers recorded under another set are not re-counted; a window reaching past today ends today)."""
    w = window(w.first, w.last)
    result = cards(conn, level, [w], calendar)
    out: dict[str, dict[str, Any]] = {}
    for (_tag, gset, gcode), c in result.items():
        if gset != set_name or public_code(gcode) is None:
            continue
        values: dict[str, Any] = {"total": c.total["scaled"]}
        values.update({i["id"].replace(".", "_"): i["ratio"] for i in c.indicators})
        out[gcode] = values
    return out
