"""Snapshot periods: local calendar months ``YYYY-MM`` (UTC+7)."""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from ops_center.settings import LOCAL_TIMEZONE

MONTH_PATTERN = r"^(2[0-9]{3})-(0[1-9]|1[0-2])$"
_MONTH = re.compile(MONTH_PATTERN)


def month_of(t: datetime, tz: str = LOCAL_TIMEZONE) -> str:
    local = t.astimezone(ZoneInfo(tz))
    return f"{local.year:04d}-{local.month:02d}"


def parse(month: str) -> date:
    """The first day of ``month``; ``ValueError`` naming the value otherwise."""
    m = _MONTH.fullmatch(month)
    if not m:
        raise ValueError(f"period: {month[:40]!r} is not a month YYYY-MM")
    return date(int(m.group(1)), int(m.group(2)), 1)


def next_month(d: date) -> date:
    return date(d.year + d.month // 12, d.month % 12 + 1, 1)


def bounds(month: str) -> tuple[date, date]:
    """Local dates ``[first, next first)`` of ``month``."""
    first = parse(month)
    return first, next_month(first)


def months_back(t: datetime, n: int, tz: str = LOCAL_TIMEZONE) -> list[str]:
    """The ``n`` months ending with the one containing ``t``, oldest first."""
    first = parse(month_of(t, tz))
    out = [first]
    for _ in range(n - 1):
        prev = out[-1]
        out.append(date(prev.year - (prev.month == 1), (prev.month - 2) % 12 + 1, 1))
    return [f"{d.year:04d}-{d.month:02d}" for d in reversed(out)]
