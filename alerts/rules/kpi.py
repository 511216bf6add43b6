"""KPI rules, pure: which units/wards have a dossier KPI — or a national service index figure — below target
(given the rows: dossier KPI items, or ``IndexRow``s for ``766.*``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from alerts.rules.models import SCORECARD_PREFIX, KpiRule
from ops_center.settings import LOCAL_TIMEZONE

# Which count backs each KPI (a rate over fewer than min_count dossiers does not fire).
_DENOMINATOR = {"on_time_rate": "resolved", "online_share": "received.total",
                "postal_receive_share": "received_post_offered", "postal_return_share": "returned_post_offered"}


@dataclass(frozen=True)
class IndexRow:
    """One group's national service index figure: ``value`` the ratio (the total: scaled to 100, divided by 100),
    ``count`` the denominator backing it (None for the total)."""

    code: str
    name: str
    value: float | None
    count: int | None


def index_rows(kpi: str, items: Iterable[Mapping[str, Any]]) -> list[IndexRow]:
    """``IndexRow``s of ``kpi`` (``766.2.1``, ``766.total``) from scorecard items (``ops_center.scorecard``)."""
    wanted = kpi.removeprefix(SCORECARD_PREFIX)
    out = []
    for item in items:
        code = str(item.get("code") or "province")
        if wanted == "total":
            scaled = item["total"]["scaled"]
            out.append(IndexRow(code, str(item.get("name") or code), None if scaled is None else scaled / 100, None))
            continue
        ind = next((i for i in item["indicators"] if i["id"] == wanted), None)
        if ind is not None:
            out.append(IndexRow(code, str(item.get("name") or code), ind["ratio"], int(ind["denominator"])))
    return out


@dataclass(frozen=True)
class Below:
    code: str
    name: str
    value: float
    count: int | None


def _get(row: Any, path: str) -> Any:
    value = row
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else getattr(value, part, None)
        if value is None:
            return None
    return value


def period_window(period: str, now: datetime, tz: str = LOCAL_TIMEZONE) -> tuple[datetime, datetime]:
    """The current local day, month or year up to ``now``."""
    local = now.astimezone(ZoneInfo(tz))
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if period in ("month", "year"):
        start = start.replace(day=1)
    if period == "year":
        start = start.replace(month=1)
    return start, now + timedelta(microseconds=1)


def below_target(rule: KpiRule, rows: Iterable[Any]) -> list[Below]:
    codes = set(rule.codes)
    out: list[Below] = []
    for row in rows:
        code = _get(row, "code")
        code = str(code) if code is not None else ("province" if rule.level == "province" else None)
        if code is None or (codes and code not in codes):
            continue
        if isinstance(row, IndexRow):
            value, count = row.value, row.count
        else:
            value, count = _get(row, rule.kpi), _get(row, _DENOMINATOR[rule.kpi])
        if value is None:
            continue
        if count is not None and int(count) < rule.min_count:
            continue
        if float(value) < rule.target:
            out.append(Below(code, str(_get(row, "name") or code), float(value),
                             int(count) if count is not None else None))
    return out
