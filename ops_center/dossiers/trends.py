"""Leaders' trends: each KPI by month beside the same month a year earlier (the seed report compares 2019 with
2018: 20,703 online dossiers against 12,965), per group of a level. One ``kpis.compute`` call over both years."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final

from ops_center.db import Conn
from ops_center.dossiers import kpis
from ops_center.dossiers.calendar import local_date

TREND_KPIS: Final = ("received", "online", "online_share", "resolved", "on_time_rate", "open_overdue",
                     "postal_receive_share", "postal_return_share")
"""``online`` = received online (levels 3 and 4); the others as ``kpis`` defines them."""
COUNTS: Final = frozenset({"received", "online", "resolved", "open_overdue"})
MAX_MONTHS: Final = 24


@dataclass(frozen=True, slots=True)
class TrendGroup:
    code: str | None
    name: str
    set: str | None
    current: dict[str, list[float | None]]
    """KPI → one value per month of ``Trend.months``; ``None`` for a ratio without a denominator or a month
    that has not begun."""
    previous: dict[str, list[float | None]]
    """The same for the months a year earlier (``Trend.previous_months``)."""


@dataclass(frozen=True, slots=True)
class Trend:
    level: str
    months: list[date]
    previous_months: list[date]
    groups: list[TrendGroup]


def add_months(d: date, n: int) -> date:
    """The first day of the month ``n`` months after ``d``'s month."""
    k = d.year * 12 + d.month - 1 + n
    return date(k // 12, k % 12 + 1, 1)


def _value(item: dict[str, Any], kpi: str) -> float | None:
    if kpi == "received":
        return float(item["received"]["total"])
    if kpi == "online":
        return float(item["received"]["online_l3"] + item["received"]["online_l4"])
    value = item.get(kpi)
    return None if value is None else float(value)


def monthly_trend(conn: Conn, level: str, last_month: date, months: int = 12, codes: list[str] | None = None,
                  *, now: datetime | None = None) -> Trend:
    """``months`` months ending with ``last_month``'s month, and the same months a year earlier."""
    if not 1 <= months <= MAX_MONTHS:
        raise kpis.KpiError(f"months: {months} is outside [1, {MAX_MONTHS}]")
    first = add_months(last_month, -(months - 1))
    current = [add_months(first, i) for i in range(months)]
    previous = [add_months(m, -12) for m in current]
    this_month = local_date(now or datetime.now(UTC)).replace(day=1)
    items = kpis.compute(conn, level, "month", previous[0], add_months(last_month, 1), codes, now=now)
    by_group: dict[tuple[str | None, str | None], dict[str, dict[str, Any]]] = {}
    names: dict[tuple[str | None, str | None], str] = {}
    for it in items:
        key = (it.get("set"), it["code"])
        by_group.setdefault(key, {})[it["period_start"]] = it
        names[key] = it["name"]

    def column(periods: dict[str, dict[str, Any]], month_list: list[date], kpi: str) -> list[float | None]:
        out: list[float | None] = []
        for m in month_list:
            it = periods.get(m.isoformat())
            if m > this_month:
                out.append(None)
            elif it is None:
                out.append(0.0 if kpi in COUNTS else None)
            else:
                out.append(_value(it, kpi))
        return out

    groups = [TrendGroup(code=code, name=names[(gset, code)], set=gset,
                         current={k: column(periods, current, k) for k in TREND_KPIS},
                         previous={k: column(periods, previous, k) for k in TREND_KPIS})
              for (gset, code), periods in by_group.items()]
    groups.sort(key=lambda g: (g.code is None, g.code or "", g.set or ""))
    return Trend(level=level, months=current, previous_months=previous, groups=groups)
