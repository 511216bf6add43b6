"""Periods of the scorecard, in local dates: a window ``[first, stop)`` cut into days, months, quarters, years, or
kept whole (``range``); the period before a window and the same window a year earlier."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

PERIODS: Final = ("day", "month", "quarter", "year", "range")


class PeriodError(ValueError):
    pass


@dataclass(frozen=True, order=True)
class Period:
    """Local dates ``[first, stop)``."""

    first: date
    stop: date

    @property
    def last(self) -> date:
        return self.stop - timedelta(days=1)

    def as_json(self) -> dict[str, str]:
        return {"from": self.first.isoformat(), "to": self.last.isoformat()}


def _start(d: date, period: str) -> date:
    if period == "day":
        return d
    if period == "month":
        return d.replace(day=1)
    if period == "quarter":
        return date(d.year, (d.month - 1) // 3 * 3 + 1, 1)
    return date(d.year, 1, 1)


def _next(d: date, period: str) -> date:
    if period == "day":
        return d + timedelta(days=1)
    months = {"month": 1, "quarter": 3, "year": 12}[period]
    m = d.month - 1 + months
    return date(d.year + m // 12, m % 12 + 1, 1)


def partition(first: date, stop: date, period: str) -> list[Period]:
    """The periods of ``[first, stop)``, clipped to it (a window starting mid-month has a partial first month)."""
    if period not in PERIODS:
        raise PeriodError(f"period: {period!r} is not one of {', '.join(PERIODS)}")
    if stop <= first:
        return []
    if period == "range":
        return [Period(first, stop)]
    out = []
    p = _start(first, period)
    while p < stop:
        n = _next(p, period)
        out.append(Period(max(p, first), min(n, stop)))
        p = n
    return out


def shift_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


def year_before(p: Period) -> Period:
    return Period(shift_years(p.first, -1), shift_years(p.stop, -1))


def previous(p: Period, period: str) -> Period:
    """The period just before: the previous calendar month, quarter or year when ``p`` is one (or part of one, as
    the current month to date: then the same days of the previous one), else a window as long just before."""
    if period in ("month", "quarter", "year") and p.first == _start(p.first, period):
        months = {"month": 1, "quarter": 3, "year": 12}[period]
        m = p.first.month - 1 - months
        first = date(p.first.year + m // 12, m % 12 + 1, 1)
        full_stop = _next(first, period)
        length = p.stop - p.first
        return Period(first, min(full_stop, first + length) if p.stop != _next(p.first, period) else full_stop)
    return Period(p.first - (p.stop - p.first), p.first)
