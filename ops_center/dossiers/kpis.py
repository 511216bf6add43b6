"""The province's e-government KPIs over dossiers, exactly as ``DESIGN.md`` defines them, read from the daily rollup.

Per group (unit, ward, district or the province) and period (day, month or year, local calendar):

- ``received`` by channel (online_l3, online_l4, counter, postal) and in total — on the received date;
- ``resolved``, ``resolved_on_time`` — on the resolved date; ``on_time_rate`` = resolved on or before the due date /
  resolved, in the period;
- ``open_overdue`` — dossiers open past their due date at the close of the period (for the current period: now);
- ``online_share`` = received online (level 3 or 4) / received;
- ``postal_receive_share`` = received by post / received for procedures offered by post;
- ``postal_return_share`` = results returned by post / results returned for procedures offered by post.

A ratio with a zero denominator is ``None`` (no data is not 0 %). Levels: ``unit`` (the receiving unit), ``ward``
(the dossier's ward in the boundary set in force on its received date), ``district`` (the ward's district in that
set; sets without a district level — Cà Mau since 2025-07-01 — put their wards in one item with ``code: null`` and a
note saying the level does not apply), ``province`` (everything).

Speed: the rollup has one row per (day, unit, ward) with activity, so a year by unit reads at most 366 × units rows
plus a baseline for ``open_overdue`` from a partial index of the days with overdue movements (see ``rollup``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from ops_center.db import Conn, fetch_all
from ops_center.dossiers.calendar import LOCAL_TZ, local_date

Level = Literal["province", "district", "ward", "unit"]
Period = Literal["day", "month", "year"]
LEVELS: tuple[str, ...] = ("province", "district", "ward", "unit")
PERIODS: tuple[str, ...] = ("day", "month", "year")

NA_DISTRICT = "#n/a"  # internal group code: a ward of a set without districts (never a real code)
UNKNOWN = ""  # internal group code: no ward known
NA_NAME = "Không áp dụng: bộ ranh giới không có cấp huyện (cấp huyện bãi bỏ từ 01/07/2025) / not applicable"
UNKNOWN_NAME = "Chưa xác định / unknown"
PROVINCE_CODE, PROVINCE_NAME = "province", "Toàn tỉnh"

_SUMS = ("received_online_l3", "received_online_l4", "received_counter", "received_postal",
         "received_post_offered", "resolved", "resolved_on_time", "returned", "returned_postal",
         "returned_post_offered")


class KpiError(ValueError):
    pass


@dataclass(frozen=True)
class _Group:
    select: str  # SQL expressions: set, code
    join: str
    filter_col: str


def _has_geo(conn: Conn) -> bool:
    row = conn.execute("SELECT to_regclass('boundary_units') IS NOT NULL").fetchone()
    return bool(row and row[0])


def _group(level: str, geo: bool) -> _Group:
    if level == "unit":
        return _Group("'' AS gset, d.unit_code AS gcode", "", "d.unit_code")
    if level == "ward":
        return _Group("d.ward_set AS gset, d.ward_code AS gcode", "", "d.ward_code")
    if level == "province":
        return _Group(f"'' AS gset, '{PROVINCE_CODE}' AS gcode", "", "''")
    if not geo:
        code = f"CASE WHEN d.ward_set = '' THEN '' ELSE '{NA_DISTRICT}' END"
        return _Group(f"d.ward_set AS gset, {code} AS gcode", "", code)
    code = (f"CASE WHEN m.parent_code IS NOT NULL THEN m.parent_code "
            f"WHEN d.ward_set <> '' AND NOT EXISTS (SELECT 1 FROM boundary_units x WHERE x.set_name = d.ward_set "
            f"AND x.level = 'district') THEN '{NA_DISTRICT}' ELSE '' END")
    join = ("LEFT JOIN boundary_units m ON m.set_name = d.ward_set AND m.level = 'ward' "
            "AND m.code = d.ward_code")
    return _Group(f"d.ward_set AS gset, {code} AS gcode", join, code)


def day_range(start: date | datetime | None, end: date | datetime | None) -> tuple[date, date]:
    """Local dates ``[first, stop)`` for a start and an exclusive end given as dates or aware datetimes."""
    if start is None:
        first = date(2000, 1, 1)
    elif isinstance(start, datetime):
        first = local_date(start)
    else:
        first = start
    if end is None:
        stop = local_date(datetime.now(UTC)) + timedelta(days=1)
    elif isinstance(end, datetime):
        if end.tzinfo is None:
            raise KpiError(f"end: {end.isoformat()} has no timezone offset")
        local = end.astimezone(LOCAL_TZ)
        at_midnight = (local.hour, local.minute, local.second, local.microsecond) == (0, 0, 0, 0)
        stop = local.date() if at_midnight else local.date() + timedelta(days=1)
    else:
        stop = end
    return first, stop


def _period_start(d: date, period: str) -> date:
    if period == "day":
        return d
    if period == "month":
        return d.replace(day=1)
    return d.replace(month=1, day=1)


def _next_period(d: date, period: str) -> date:
    if period == "day":
        return d + timedelta(days=1)
    if period == "month":
        return date(d.year + d.month // 12, d.month % 12 + 1, 1)
    return date(d.year + 1, 1, 1)


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def compute(conn: Conn, level: str, period: str, start: date | datetime | None, end: date | datetime | None,
            codes: list[str] | None = None, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """KPI items for ``level`` and ``period`` over local dates ``[start, end)`` (``end`` exclusive; dates or aware
    datetimes), optionally only for ``codes`` of that level. Items are sorted by code, then period; a group appears
    in a period when something happened in it or dossiers were open past due at its close. Periods after today are
    not reported; the current period's ``open_overdue`` is the count now."""
    if level not in LEVELS:
        raise KpiError(f"level: {level!r} is not one of {', '.join(LEVELS)}")
    if period not in PERIODS:
        raise KpiError(f"period: {period!r} is not one of {', '.join(PERIODS)}")
    first, stop = day_range(start, end)
    today = local_date(now or datetime.now(UTC))
    stop = min(stop, today + timedelta(days=1))
    if stop <= first:
        return []
    geo = level == "district" and _has_geo(conn)
    g = _group(level, geo)
    in_until = min(stop - timedelta(days=1), today - timedelta(days=1))  # due today is not overdue yet
    code_filter, params_filter = "", []
    if codes:
        real = [NA_DISTRICT if c is None else c for c in codes]
        code_filter = f" AND {g.filter_col} = ANY(%s)"
        params_filter = [real]
    sums = ", ".join(f"sum(d.{c})::bigint AS {c}" for c in _SUMS)
    rows = fetch_all(
        conn,
        f"SELECT {g.select}, date_trunc(%s, d.day)::date AS p, {sums}, "
        f"coalesce(sum(d.overdue_in) FILTER (WHERE d.day <= %s), 0)::bigint AS oin, "
        f"sum(d.overdue_out)::bigint AS oout "
        f"FROM dossier_daily d {g.join} WHERE d.day >= %s AND d.day < %s{code_filter} "
        f"GROUP BY 1, 2, 3",
        [period, in_until, first, stop, *params_filter],
    )
    base = fetch_all(
        conn,
        f"SELECT {g.select}, sum(d.overdue_in)::bigint - sum(d.overdue_out)::bigint AS open "
        f"FROM dossier_daily d {g.join} WHERE d.day < %s AND (d.overdue_in <> 0 OR d.overdue_out <> 0)"
        f"{code_filter} GROUP BY 1, 2",
        [first, *params_filter],
    )
    groups: dict[tuple[str, str], dict[date, dict[str, Any]]] = defaultdict(dict)
    for r in rows:
        groups[(r["gset"], r["gcode"])][r["p"]] = r
    baseline = {(r["gset"], r["gcode"]): int(r["open"]) for r in base}
    for key in baseline:
        groups.setdefault(key, {})
    if level == "district":
        groups = _merge_na(groups, baseline)
    names = _names(conn, level, list(groups))

    periods: list[date] = []
    p = _period_start(first, period)
    while p < stop:
        periods.append(p)
        p = _next_period(p, period)

    items: list[dict[str, Any]] = []
    for key in sorted(groups, key=lambda k: (k[1] == NA_DISTRICT, k[1] == UNKNOWN, k[1], k[0])):
        by_period = groups[key]
        open_overdue = baseline.get(key, 0)
        for ps in periods:
            r = by_period.get(ps)
            if r is not None:
                open_overdue += int(r["oin"]) - int(r["oout"])
            if r is None and open_overdue == 0:
                continue
            items.append(_item(level, key, names.get(key), ps, r, open_overdue))
    return items


def _merge_na(groups: dict[tuple[str, str], dict[date, dict[str, Any]]], baseline: dict[tuple[str, str], int]
              ) -> dict[tuple[str, str], dict[date, dict[str, Any]]]:
    """District level: every ward without a district (whatever its set) in one "not applicable" item, and the
    district codes keyed without their set (a district code is unique)."""
    out: dict[tuple[str, str], dict[date, dict[str, Any]]] = defaultdict(dict)
    merged_base: dict[tuple[str, str], int] = defaultdict(int)
    for (gset, gcode), periods in groups.items():
        key = ("", gcode) if gcode in (NA_DISTRICT, UNKNOWN) else (gset, gcode)
        for ps, r in periods.items():
            if ps in out[key]:
                acc = dict(out[key][ps])
                for c in (*_SUMS, "oin", "oout"):
                    acc[c] = int(acc[c]) + int(r[c])
                out[key][ps] = acc
            else:
                out[key][ps] = r
        if key not in out:
            out[key] = {}
        merged_base[key] += baseline.get((gset, gcode), 0)
    baseline.clear()
    baseline.update(merged_base)
    return out


def _names(conn: Conn, level: str, keys: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    codes = sorted({c for _, c in keys if c not in (NA_DISTRICT, UNKNOWN)})
    out: dict[tuple[str, str], str] = {}
    if level == "unit":
        for code, name in conn.execute("SELECT code, name FROM units WHERE code = ANY(%s)", (codes,)).fetchall():
            out[("", code)] = name
    elif level == "province":
        row = conn.execute("SELECT name FROM units WHERE level = 'province' ORDER BY code LIMIT 1").fetchone()
        out[("", PROVINCE_CODE)] = row[0] if row else PROVINCE_NAME
    elif _has_geo(conn):
        lvl = "ward" if level == "ward" else "district"
        sets = sorted({s for s, _ in keys if s})
        for set_name, code, name in conn.execute(
                "SELECT set_name, code, name FROM boundary_units WHERE level = %s AND set_name = ANY(%s) "
                "AND code = ANY(%s)", (lvl, sets, codes)).fetchall():
            out[(set_name, code)] = name
    for key in keys:
        if key[1] == NA_DISTRICT:
            out[key] = NA_NAME
        elif key[1] == UNKNOWN:
            out[key] = UNKNOWN_NAME
    return out


def _item(level: str, key: tuple[str, str], name: str | None, ps: date, r: dict[str, Any] | None,
          open_overdue: int) -> dict[str, Any]:
    v = {c: int(r[c]) if r is not None else 0 for c in _SUMS}
    received = {"online_l3": v["received_online_l3"], "online_l4": v["received_online_l4"],
                "counter": v["received_counter"], "postal": v["received_postal"]}
    total = sum(received.values())
    gset, code = key
    item: dict[str, Any] = {
        "level": level,
        "code": None if code in (NA_DISTRICT, UNKNOWN) else code,
        "name": name or code,
        "period_start": ps.isoformat(),
        "received": {**received, "total": total},
        "resolved": v["resolved"],
        "resolved_on_time": v["resolved_on_time"],
        "on_time_rate": _ratio(v["resolved_on_time"], v["resolved"]),
        "open_overdue": open_overdue,
        "online_share": _ratio(received["online_l3"] + received["online_l4"], total),
        "postal_receive_share": _ratio(received["postal"], v["received_post_offered"]),
        "postal_return_share": _ratio(v["returned_postal"], v["returned_post_offered"]),
        "received_post_offered": v["received_post_offered"],
        "returned": v["returned"],
        "returned_postal": v["returned_postal"],
        "returned_post_offered": v["returned_post_offered"],
    }
    if level in ("ward", "district") and gset:
        item["set"] = gset
    if code == NA_DISTRICT:
        item["note"] = ("district level does not apply: these wards belong to a boundary set without districts "
                        "(Cà Mau abolished the district level on 2025-07-01)")
    elif code == UNKNOWN and level in ("ward", "district"):
        item["note"] = "the dossiers named no ward and their unit has none"
    return item


def notes_for(level: str, items: list[dict[str, Any]]) -> list[str]:
    """Plain-language notes for an API answer (e.g. the district level not applying to part of the data)."""
    notes = []
    if level == "district" and any(i.get("code") is None and i.get("note", "").startswith("district level")
                                   for i in items):
        notes.append("District level not applicable for dossiers in wards of a boundary set without districts "
                     "(from 2025-07-01 Cà Mau has wards only); they are counted in the item with code null.")
    return notes


def on_time_rate_by_ward(conn: Conn, set_name: str, level: str, start: date | datetime | None,
                         end: date | datetime | None) -> dict[str, float | None]:
    """Map layer: the on-time rate per ward (or district) code of ``set_name`` over ``[start, end)``; ``None`` for a
    unit with dossiers in the period but none resolved. Dossiers recorded under another set are not re-counted."""
    if level not in ("ward", "district"):
        raise KpiError(f"level: {level!r} is not one of ward, district")
    first, stop = day_range(start, end)
    if level == "ward":
        rows = conn.execute(
            "SELECT ward_code, sum(resolved_on_time), sum(resolved) FROM dossier_daily WHERE ward_set = %s "
            "AND ward_code <> '' AND day >= %s AND day < %s GROUP BY 1", (set_name, first, stop)).fetchall()
    else:
        if not _has_geo(conn):
            return {}
        rows = conn.execute(
            "SELECT m.parent_code, sum(d.resolved_on_time), sum(d.resolved) FROM dossier_daily d "
            "JOIN boundary_units m ON m.set_name = d.ward_set AND m.level = 'ward' AND m.code = d.ward_code "
            "WHERE d.ward_set = %s AND m.parent_code IS NOT NULL AND d.day >= %s AND d.day < %s GROUP BY 1",
            (set_name, first, stop)).fetchall()
    return {str(code): _ratio(int(ok), int(n)) for code, ok, n in rows}

