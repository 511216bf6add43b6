"""The ``alerts_open`` snapshot kind: open alerts now, by severity and category (the alert's metric, KPI or rule
kind — a code, never free text), how many are muted or acknowledged, and the month's new alerts. A state (the
current month only). No alert id, subject, device, summary or note crosses. Registered through the
``ops_center.federation.producers`` entry point (pyproject.toml)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import Field

from ops_center.db import Conn
from ops_center.federation import periods
from ops_center.federation.registry import Metric, Producer
from ops_center.federation.wire import Code, Count, Severity, Wire
from ops_center.settings import LOCAL_TZ

_CATEGORY = ("CASE WHEN c ~ '^[a-z][a-z0-9_]{0,39}$' THEN c ELSE 'other' END")


class AlertCount(Wire):
    severity: Severity
    category: Code
    count: Count


class AlertsOpen(Wire):
    open_total: Count
    muted: Count
    acknowledged: Count
    open: list[AlertCount] = Field(max_length=1000)
    fired_in_period: Count


def build(conn: Conn, months: Sequence[str], now: datetime) -> dict[str, AlertsOpen]:
    month = months[-1]
    first, stop = periods.bounds(month)
    rows = conn.execute(
        f"SELECT a.severity, {_CATEGORY} AS category, count(*), count(*) FILTER (WHERE a.muted), "
        f"count(*) FILTER (WHERE a.acknowledged_at IS NOT NULL) FROM (SELECT a.*, coalesce(a.labels->>'category', "
        f"a.labels->>'metric', a.labels->>'kpi', r.kind, 'other') AS c FROM alerts a "
        f"LEFT JOIN alert_rules r ON r.id = a.rule_id WHERE a.ends_at IS NULL OR a.ends_at > %s) a "
        f"GROUP BY 1, 2 ORDER BY 1, 2", (now,)).fetchall()
    fired = conn.execute("SELECT count(*) FROM alerts WHERE starts_at >= %s AND starts_at < %s",
                         (datetime(first.year, first.month, 1, tzinfo=LOCAL_TZ),
                          datetime(stop.year, stop.month, 1, tzinfo=LOCAL_TZ))).fetchone()
    return {month: AlertsOpen(
        open_total=sum(int(r[2]) for r in rows), muted=sum(int(r[3]) for r in rows),
        acknowledged=sum(int(r[4]) for r in rows),
        open=[AlertCount(severity=r[0], category=r[1], count=int(r[2])) for r in rows],
        fired_in_period=int(fired[0]) if fired else 0)}


PRODUCER = Producer(
    kind="alerts_open", title_vi="Cảnh báo đang mở", title_en="Open alerts", data_model=AlertsOpen, build=build,
    topics=frozenset({"alert"}), history=False,
    metrics=(Metric("open_total", ("open_total",), "Cảnh báo đang mở", "Open alerts", "count",
                    higher_is_better=False),),
)
