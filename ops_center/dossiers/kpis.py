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
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from ops_center.db import Conn
from ops_center.dossiers.calendar import local_date
from ops_center.levels import (
    LEVELS,
    NA_DISTRICT,
    UNKNOWN,
    GroupSql,
    extra,
    group_names,
    group_sql,
    sort_key,
)
from ops_center.settings import LOCAL_TZ
from ops_center.wards import district_rows_sql, has_geo

Level = Literal["province", "district", "ward", "unit"]
Period = Literal["day", "month", "year"]
PERIODS: tuple[str, ...] = ("day", "month", "year")

_SUMS = ("received_online_l3", "received_online_l4", "received_counter", "received_postal",
         "received_post_offered", "resolved", "resolved_on_time", "returned", "returned_postal",
         "returned_post_offered")


class KpiError(ValueError):
    pass


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
    g = group_sql(level, level == "district" and has_geo(conn))
    in_until = min(stop - timedelta(days=1), today - timedelta(days=1))  # due today is not overdue yet
    code_filter, params_filter = "", []
    if codes:
        real = [NA_DISTRICT if c is None else c for c in codes]
        code_filter = f" AND {g.filter_col} = ANY(%s)"
        params_filter = [real]
    parts, params = _parts(g, period, first, stop, today, in_until, code_filter, params_filter)
    sums = ", ".join(f"sum({c})::bigint" for c in (*_SUMS, "oin", "oout"))
    with conn.cursor(binary=True) as cur:  # binary results: ints and dates without text parsing
        rows = cur.execute(f"SELECT gset, gcode, p, {sums} FROM ({' UNION ALL '.join(parts)}) x GROUP BY 1, 2, 3",
                           params).fetchall()
    base = conn.execute(
        f"SELECT {g.select}, sum(d.overdue_in)::bigint - sum(d.overdue_out)::bigint AS open "
        f"FROM dossier_daily d {g.join} WHERE d.day < %s AND (d.overdue_in <> 0 OR d.overdue_out <> 0)"
        f"{code_filter} GROUP BY 1, 2",
        [first, *params_filter],
    ).fetchall()
    # per group: period start -> the 10 sums then overdue in, overdue out (ints)
    groups: dict[tuple[str, str], dict[date, tuple[int, ...]]] = defaultdict(dict)
    for r in rows:
        groups[(r[0], r[1])][r[2]] = r[3:]
    baseline: dict[tuple[str, str], int] = {(r[0], r[1]): int(r[2]) for r in base}
    for key in baseline:
        groups.setdefault(key, {})
    if level == "district":
        groups, baseline = _merge_na(groups, baseline)
    names = group_names(conn, level, list(groups))

    periods: list[tuple[date, str]] = []
    p = _period_start(first, period)
    while p < stop:
        periods.append((p, p.isoformat()))
        p = _next_period(p, period)

    items: list[dict[str, Any]] = []
    append = items.append
    for key in sorted(groups, key=sort_key):
        by_period = groups[key]
        gset, gcode = key
        code = None if gcode in (NA_DISTRICT, UNKNOWN) else gcode
        name = names.get(key) or gcode
        more = extra(level, gset, gcode)
        open_overdue = baseline.get(key, 0)
        for ps, iso in periods:
            v = by_period.get(ps)
            if v is None:
                if open_overdue == 0:
                    continue
                v = _ZEROS
            else:
                open_overdue += v[10] - v[11]
            l3, l4, counter, postal, offered, resolved, on_time, returned, ret_postal, ret_offered = v[:10]
            total = l3 + l4 + counter + postal
            item = {
                "level": level, "code": code, "name": name, "period_start": iso,
                "received": {"online_l3": l3, "online_l4": l4, "counter": counter, "postal": postal, "total": total},
                "resolved": resolved, "resolved_on_time": on_time,
                "on_time_rate": on_time / resolved if resolved else None,
                "open_overdue": open_overdue,
                "online_share": (l3 + l4) / total if total else None,
                "postal_receive_share": postal / offered if offered else None,
                "postal_return_share": ret_postal / ret_offered if ret_offered else None,
                "received_post_offered": offered, "returned": returned, "returned_postal": ret_postal,
                "returned_post_offered": ret_offered,
            }
            if more:
                item.update(more)
            append(item)
    return items


_ZEROS = (0,) * (len(_SUMS) + 2)


def _parts(g: GroupSql, period: str, first: date, stop: date, today: date, in_until: date, code_filter: str,
           params_filter: list[Any]) -> tuple[list[str], list[Any]]:
    """The row sources of ``[first, stop)``: whole months already over come from ``dossier_monthly`` (month and year
    periods), the rest (partial months at the edges, the current month, every day for day periods) from
    ``dossier_daily``, whose ``overdue_in`` counts only up to ``in_until``."""
    cols = ", ".join(f"d.{c}" for c in _SUMS)
    parts: list[str] = []
    params: list[Any] = []

    def daily(lo: date, hi: date) -> None:
        if hi <= lo:
            return
        bucket = "d.day" if period == "day" else f"date_trunc('{period}', d.day)::date"
        parts.append(f"SELECT {g.select}, {bucket} AS p, {cols}, "
                     f"CASE WHEN d.day <= %s THEN d.overdue_in ELSE 0 END AS oin, d.overdue_out AS oout "
                     f"FROM dossier_daily d {g.join} WHERE d.day >= %s AND d.day < %s{code_filter}")
        params.extend([in_until, lo, hi, *params_filter])

    if period == "day":
        daily(first, stop)
        return parts, params
    m_first = first if first.day == 1 else _next_period(first, "month")
    m_stop = min(stop, today).replace(day=1)  # months whose last day is before today and inside the window
    if m_stop <= m_first:
        daily(first, stop)
        return parts, params
    daily(first, m_first)
    bucket = "d.month" if period == "month" else "date_trunc('year', d.month)::date"
    parts.append(f"SELECT {g.select}, {bucket} AS p, {cols}, d.overdue_in AS oin, d.overdue_out AS oout "
                 f"FROM dossier_monthly d {g.join} WHERE d.month >= %s AND d.month < %s{code_filter}")
    params.extend([m_first, m_stop, *params_filter])
    daily(m_stop, stop)
    return parts, params


def _merge_na(groups: dict[tuple[str, str], dict[date, tuple[int, ...]]], baseline: dict[tuple[str, str], int]
              ) -> tuple[dict[tuple[str, str], dict[date, tuple[int, ...]]], dict[tuple[str, str], int]]:
    """District level: every ward without a district (whatever its set) in one "not applicable" item (and the
    unknown ones in one "unknown" item)."""
    out: dict[tuple[str, str], dict[date, tuple[int, ...]]] = defaultdict(dict)
    merged_base: dict[tuple[str, str], int] = defaultdict(int)
    for (gset, gcode), periods in groups.items():
        key = ("", gcode) if gcode in (NA_DISTRICT, UNKNOWN) else (gset, gcode)
        target = out[key]
        for ps, v in periods.items():
            have = target.get(ps)
            target[ps] = v if have is None else tuple(a + b for a, b in zip(have, v, strict=True))
        merged_base[key] += baseline.get((gset, gcode), 0)
    return out, dict(merged_base)


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
        if not has_geo(conn):
            return {}
        rows = conn.execute(district_rows_sql("sum(d.resolved_on_time), sum(d.resolved)", "dossier_daily",
                                              "d.ward_set = %s AND d.day >= %s AND d.day < %s"),
                            (set_name, first, stop)).fetchall()
    return {str(code): _ratio(int(ok), int(n)) for code, ok, n in rows}

