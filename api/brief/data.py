"""What goes into the daily brief, gathered for one local day [00:00, 24:00) UTC+7 and one boundary set.

Each section is read in its own savepoint: a domain that is not installed (or fails) leaves a note in the brief
instead of failing it. Sources: the map summary and its PNG renderer (geo), alert statistics from the ``alerts``
table, incidents from the ``incidents`` table, dossier KPIs from ``ops_center.dossiers.kpis.compute``, the national
service index (Decision 766) of the month to date against the same days of the month before and the units with the
lowest totals from ``ops_center.scorecard.service``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from alerts import service as alert_service
from api.brief import warnings_section
from ops_center.db import Conn
from ops_center.dossiers import kpis
from ops_center.dossiers.calendar import BusinessCalendar, load_calendar
from ops_center.incidents import categories
from ops_center.incidents import reads as incident_reads
from ops_center.readings import ReadingsStore
from ops_center.settings import LOCAL_TZ

log = logging.getLogger("api.brief")
SEVERITIES = ("critical", "major", "minor", "info")
SEVERITY_VI = {"critical": "Nghiêm trọng", "major": "Cao", "minor": "Trung bình", "info": "Thông tin"}
STATUS_VI = {"new": "Mới", "assigned": "Đã giao", "in_progress": "Đang xử lý", "resolved": "Đã xử lý",
             "closed": "Đã đóng"}
KPI_TOP_WARDS = 10
SCORECARD_LOWEST = 5
MAP_LAYERS = ("alerts_total", "incidents_open", "salinity_ppt_max", "water_level_cm_max", "devices_online",
              "dossier_on_time_rate")


@dataclass
class KpiRow:
    code: str
    name: str
    received: int = 0
    online: int = 0
    resolved: int = 0
    on_time: int = 0
    overdue: int = 0

    @property
    def online_share(self) -> float | None:
        return self.online / self.received if self.received else None

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.resolved if self.resolved else None


@dataclass
class AlertStat:
    severity: str
    new: int = 0
    active_at_end: int = 0
    acknowledged: int = 0
    resolved: int = 0


@dataclass(frozen=True)
class ScoreGroup:
    id: str
    name: str
    points: float
    earned: float | None
    available: float
    earned_before: float | None


@dataclass(frozen=True)
class ScoreUnit:
    code: str
    name: str
    total: float
    earned: float | None
    available: float


@dataclass
class ScorecardBrief:
    """The national service index (Decision 766) of the month to the brief's day, against the same days of the
    month before; the units with the lowest totals."""

    first: date
    last: date
    before_first: date
    before_last: date
    total: float | None
    total_before: float | None
    groups: list[ScoreGroup] = field(default_factory=list)
    lowest: list[ScoreUnit] = field(default_factory=list)
    units_scored: int = 0

    @property
    def change(self) -> float | None:
        return None if self.total is None or self.total_before is None else round(self.total - self.total_before, 2)


@dataclass
class BriefData:
    day: date
    start: datetime
    end: datetime
    generated_at: datetime
    set_name: str | None = None
    set_description: str = ""
    units: int = 0
    map_png: bytes | None = None
    map_layer: str | None = None
    devices_total: int | None = None
    devices_online: int | None = None
    incidents_open_now: int | None = None
    kpi_level: str = "district"
    kpi_units: int = 0
    kpis: list[KpiRow] = field(default_factory=list)
    kpi_total: KpiRow | None = None
    incidents: list[dict[str, Any]] = field(default_factory=list)
    alert_stats: list[AlertStat] = field(default_factory=list)
    ack_median_min: float | None = None
    scorecard: ScorecardBrief | None = None
    warnings: warnings_section.WarningsBrief | None = None
    notes: list[str] = field(default_factory=list)


def day_window(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), LOCAL_TZ)
    return start, start + timedelta(days=1)


def _get(item: Any, key: str, default: Any = None) -> Any:
    if isinstance(item, Mapping):
        return item.get(key, default)
    return getattr(item, key, default)


def _section(conn: Conn, data: BriefData, label: str, fn: Callable[[], None]) -> None:
    try:
        with conn.transaction():
            fn()
    except Exception as exc:  # one missing domain must not cost the whole brief
        log.warning("daily brief: %s unavailable: %s", label, exc)
        data.notes.append(f"{label}: chưa có số liệu ({type(exc).__name__})")


def collect(conn: Conn, readings: ReadingsStore | None, day: date, set_name: str | None = None,
            layer: str | None = None, now: datetime | None = None, calendar: BusinessCalendar | None = None
            ) -> BriefData:
    start, end = day_window(day)
    data = BriefData(day, start, end, (now or datetime.now(UTC)).astimezone(LOCAL_TZ))
    _section(conn, data, "Bản đồ", lambda: _map(conn, readings, data, set_name, layer))
    _section(conn, data, "Chỉ số hồ sơ", lambda: _kpis(conn, data))
    _section(conn, data, "Bộ chỉ số 766", lambda: _scorecard(conn, data, now, calendar))
    _section(conn, data, "Sự cố", lambda: _incidents(conn, data))
    _section(conn, data, "Cảnh báo", lambda: _alerts(conn, data))
    _section(conn, data, "Cảnh báo công cộng", lambda: warnings_section.collect(conn, data))
    return data


def _map(conn: Conn, readings: ReadingsStore | None, data: BriefData, set_name: str | None,
         layer: str | None) -> None:
    from api.map_layers import ensure_registered
    from geo import render
    from geo import summary as summaries

    ensure_registered()
    q = summaries.resolve(conn, set_name=set_name, level="ward", start=data.start, end=data.end, simplify_m=100.0)
    s = summaries.build(conn, q, readings)
    data.set_name = s.set_info.name
    data.set_description = s.set_info.description or ""
    data.units = len(s.properties)
    devs = [p["devices"] for p in s.properties if isinstance(p.get("devices"), Mapping)]
    if devs:
        data.devices_total = sum(int(d.get("total", 0)) for d in devs)
        data.devices_online = sum(int(d.get("online", 0)) for d in devs)
    if "incidents" in q.layers:
        data.incidents_open_now = sum(int(p.get("incidents_open") or 0) for p in s.properties)
    if layer is None:
        layer = "alerts_total" if "alerts" in q.layers else "devices_online"
    data.map_layer = layer
    data.map_png = render.render_png(s, layer, width_px=1300, dpi=150)


def _kpis(conn: Conn, data: BriefData) -> None:
    items = list(kpis.compute(conn, "district", "day", data.start, data.end))
    if not any(_get(it, "code") for it in items):  # no districts (the 2025 set): the busiest wards instead
        data.kpi_level = "ward"
        items = list(kpis.compute(conn, "ward", "day", data.start, data.end))
    rows: dict[str, KpiRow] = {}
    for it in items:
        code = str(_get(it, "code"))
        row = rows.setdefault(code, KpiRow(code, str(_get(it, "name") or code)))
        received = _get(it, "received") or {}
        row.received += int(_get(received, "total", 0) or 0)
        row.online += int(_get(received, "online_l3", 0) or 0) + int(_get(received, "online_l4", 0) or 0)
        row.resolved += int(_get(it, "resolved", 0) or 0)
        row.on_time += int(_get(it, "resolved_on_time", 0) or 0)
        row.overdue = max(row.overdue, int(_get(it, "open_overdue", 0) or 0))
    every = sorted(rows.values(), key=lambda r: r.name)
    data.kpi_units = len(every)
    data.kpis = every if data.kpi_level == "district" else sorted(every, key=lambda r: -r.received)[:KPI_TOP_WARDS]
    total = KpiRow("", "Toàn tỉnh")
    for r in every:
        total.received += r.received
        total.online += r.online
        total.resolved += r.resolved
        total.on_time += r.on_time
        total.overdue += r.overdue
    data.kpi_total = total


def _scorecard(conn: Conn, data: BriefData, now: datetime | None, calendar: BusinessCalendar | None) -> None:
    from ops_center.scorecard import service
    from ops_center.scorecard.definition import definition_for

    if calendar is None:
        calendar = load_calendar()
    w = service.window(data.day.replace(day=1), data.day, now)
    cmp = service.compare(conn, "month", w, calendar)
    current, previous = cmp["current"], cmp["previous"]
    before = {g["id"]: g["earned"] for g in previous.get("groups", [])}
    sc = ScorecardBrief(w.first, w.last, date.fromisoformat(previous["from"]), date.fromisoformat(previous["to"]),
                        (current.get("total") or {}).get("scaled"), (previous.get("total") or {}).get("scaled"))
    names = {g.id: g.vi for g in definition_for(w.first).groups}
    sc.groups = [ScoreGroup(g["id"], names.get(g["id"], g["id"]), g["points"], g["earned"], g["available"],
                            before.get(g["id"])) for g in current.get("groups", [])]
    ranked = [r for r in service.ranking(conn, "unit", w, calendar) if r["total"]["scaled"] is not None]
    sc.units_scored = len(ranked)
    sc.lowest = [ScoreUnit(str(r["code"]), str(r["name"]), r["total"]["scaled"], r["total"]["earned"],
                           r["total"]["available"]) for r in reversed(ranked[-SCORECARD_LOWEST:])]
    data.scorecard = sc


def _incidents(conn: Conn, data: BriefData) -> None:
    rows = incident_reads.top_of_day(conn, data.start, data.end, limit=10)
    labels: dict[str, str] = {}
    try:
        with conn.transaction():
            labels = {c.code: c.label_vi for c in categories.list_categories(conn, include_disabled=True)}
    except Exception:
        labels = {}
    for r in rows:
        r["category_label"] = labels.get(r["category"], r["category"])
    data.incidents = rows


def _alerts(conn: Conn, data: BriefData) -> None:
    rows = alert_service.day_statistics(conn, data.start, data.end)
    by = {r["severity"]: r for r in rows}
    data.alert_stats = [AlertStat(s, int(by.get(s, {}).get("new", 0)), int(by.get(s, {}).get("active_at_end", 0)),
                                  int(by.get(s, {}).get("acknowledged", 0)), int(by.get(s, {}).get("resolved", 0)))
                        for s in SEVERITIES]
    median_s = alert_service.median_ack_s(conn, data.start, data.end)
    data.ack_median_min = None if median_s is None else median_s / 60.0
