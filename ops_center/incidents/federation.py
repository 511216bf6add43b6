"""The ``incidents_open`` snapshot kind: open incidents now, by severity and category, and the month's counts.
A state (the current month only). Counts only: no title, place, reporter or id crosses."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import Field

from ops_center.db import Conn
from ops_center.federation import periods
from ops_center.federation.registry import Metric, Producer
from ops_center.federation.wire import Code, Count, Severity, Wire
from ops_center.incidents.models import OPEN_STATUSES
from ops_center.settings import LOCAL_TZ


class OpenCount(Wire):
    severity: Severity
    category: Code
    count: Count


class IncidentsOpen(Wire):
    open_total: Count
    open_overdue: Count
    open: list[OpenCount] = Field(max_length=1000)
    reported_in_period: Count
    resolved_in_period: Count


def build(conn: Conn, months: Sequence[str], now: datetime) -> dict[str, IncidentsOpen]:
    month = months[-1]
    first, stop = periods.bounds(month)
    lo = datetime(first.year, first.month, 1, tzinfo=LOCAL_TZ)
    hi = datetime(stop.year, stop.month, 1, tzinfo=LOCAL_TZ)
    rows = conn.execute("SELECT severity, category, count(*), count(*) FILTER (WHERE due_at < %s) FROM incidents "
                        "WHERE status = ANY(%s) GROUP BY 1, 2 ORDER BY 1, 2",
                        (now, list(OPEN_STATUSES))).fetchall()
    counts = conn.execute("SELECT count(*) FILTER (WHERE reported_at >= %s AND reported_at < %s), "
                          "count(*) FILTER (WHERE resolved_at >= %s AND resolved_at < %s) FROM incidents",
                          (lo, hi, lo, hi)).fetchone()
    assert counts is not None
    return {month: IncidentsOpen(
        open_total=sum(int(r[2]) for r in rows), open_overdue=sum(int(r[3]) for r in rows),
        open=[OpenCount(severity=r[0], category=r[1], count=int(r[2])) for r in rows],
        reported_in_period=int(counts[0]), resolved_in_period=int(counts[1]))}


PRODUCER = Producer(
    kind="incidents_open", title_vi="Sự cố chưa xử lý", title_en="Open incidents", data_model=IncidentsOpen,
    build=build, topics=frozenset({"incident"}), history=False,
    metrics=(
        Metric("open_total", ("open_total",), "Sự cố chưa xử lý", "Open incidents", "count", higher_is_better=False),
        Metric("open_overdue", ("open_overdue",), "Sự cố quá hạn", "Overdue incidents", "count",
               higher_is_better=False),
    ),
)
