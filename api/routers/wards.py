"""Ward drill-down for the screens (staff roles): a ward of any boundary set (2019 or 2025) with its devices, open
alerts, incidents, dossier KPIs and charts of its key series.

Which devices: those lying in the ward's outline in that set (``api.placement``). Which alerts: those labelled
with the ward (and with that set or none), as the map's alert layer counts them, and those about its devices (a
2019 ward's device alerts carry today's ward). Which incidents: those assigned
to the ward in that set at report time. Which dossiers: those whose ward in the set in force on their received
date is this one (a 2019 ward has the dossiers until 30 June 2025, a 2025 ward those after)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from alerts import service as alerts
from api import charts
from api.deps import ConnDep, ReadConn, SettingsDep, Staff, StoreDep
from api.placement import ward_device_ids, ward_index
from api.problems import ProblemError
from api.replica_reads import ReadRoute
from api.routers.alerts import AlertOut, StateQ
from api.routers.devices import DeviceOut, registry_errors
from api.screen_models import (
    AlertPage,
    DeviceCounts,
    DeviceStateName,
    IncidentBrief,
    IncidentPage,
    id_cursor,
    problems,
)
from geo.store import Unit, get_set
from ops_center.db import Conn
from ops_center.devices import service as devices
from ops_center.devices.models import DeviceFilter
from ops_center.dossiers import kpis
from ops_center.dossiers.calendar import local_date
from ops_center.dossiers.trends import add_months
from ops_center.incidents import service as incidents
from ops_center.pagination import DEFAULT_LIMIT, MAX_LIMIT, encode_cursor

router = APIRouter(tags=["ward detail"], route_class=ReadRoute)
SetPath = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$", description="boundary set")]
CodePath = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$", description="ward code in the set")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=1024)]
KEY_METRICS = ("water_level_cm", "salinity_ppt", "rain_mm", "flood_depth_cm", "pm2_5")
"""The ward's key series: the first of these its devices measure."""


class WardInfo(BaseModel):
    set: str
    set_valid_from: date
    set_valid_to: date | None
    code: str
    name: str
    unit_type: str | None
    district_code: str | None
    district_name: str | None
    area_km2: float
    rep_lon: float
    rep_lat: float


class DossierMonth(BaseModel):
    month: date
    received: int
    online: int
    resolved: int
    on_time_rate: float | None
    online_share: float | None
    open_overdue: int


class WardDossiers(BaseModel):
    start: date = Field(serialization_alias="from")
    end: date = Field(serialization_alias="to", description="last day, inclusive")
    received: int
    online: int
    online_share: float | None
    resolved: int
    on_time_rate: float | None
    open_overdue: int = Field(description="open past their due date now")
    months: list[DossierMonth] = Field(description="the last 12 months")


class WardOverview(BaseModel):
    ward: WardInfo
    devices: DeviceCounts
    metrics: list[str] = Field(description="the key series its devices measure")
    alerts_open: int = Field(description="open alerts labelled with the ward or about a device lying in it")
    incidents_open: int
    dossiers: WardDossiers


def _ward(conn: Conn, set_name: str, code: str) -> Unit:
    unit = ward_index(conn, set_name).by_code.get(code)
    if unit is None:
        raise ProblemError(404, "Not Found", f"code: no ward {code!r} in set {set_name!r}", field="code", value=code)
    return unit


def _dossiers(conn: Conn, set_name: str, code: str, today: date) -> WardDossiers:
    """KPIs of the ward's dossiers: the 30 days and the 12 months that end on ``today``."""
    first = add_months(today, -11)
    items = [i for i in kpis.compute(conn, "ward", "month", first, today + timedelta(days=1), [code])
             if i.get("set") == set_name]
    months = [DossierMonth(month=date.fromisoformat(i["period_start"]), received=i["received"]["total"],
                           online=i["received"]["online_l3"] + i["received"]["online_l4"], resolved=i["resolved"],
                           on_time_rate=i["on_time_rate"], online_share=i["online_share"],
                           open_overdue=i["open_overdue"]) for i in items]
    window = [i for i in kpis.compute(conn, "ward", "year", today - timedelta(days=29), today + timedelta(days=1),
                                      [code]) if i.get("set") == set_name]
    received = sum(i["received"]["total"] for i in window)
    online = sum(i["received"]["online_l3"] + i["received"]["online_l4"] for i in window)
    resolved = sum(i["resolved"] for i in window)
    on_time = sum(i["resolved_on_time"] for i in window)
    return WardDossiers(start=today - timedelta(days=29), end=today, received=received, online=online,
                        online_share=online / received if received else None, resolved=resolved,
                        on_time_rate=on_time / resolved if resolved else None,
                        open_overdue=months[-1].open_overdue if months else 0, months=months)


@router.get("/wards/{set_name}/{code}", response_model=WardOverview, response_model_by_alias=True,
            responses=problems(404, 422))
def ward_overview(set_name: SetPath, code: CodePath, conn: ConnDep, store: StoreDep, _: Staff,
                  until: Annotated[date | None, Query(alias="to", description="last day of the dossier KPIs "
                                                      "(default: today, or the set's last valid day)")] = None,
                  ) -> WardOverview:
    """The ward, counts of its devices by state, its open alerts and incidents, dossier KPIs (30 days and 12 months
    up to ``to``) and which key series its devices measure."""
    unit = _ward(conn, set_name, code)
    info_set = get_set(conn, set_name)
    assert info_set is not None  # _ward found the set
    today = local_date(datetime.now(UTC))
    last_day = until or (min(today, info_set.valid_to) if info_set.valid_to else today)
    ids = ward_device_ids(conn, set_name, code)
    counts = DeviceCounts()
    for d in devices.get_devices(conn, ids):
        counts.total += 1
        setattr(counts, d.state, getattr(counts, d.state) + 1)
    sent = {r.metric for r in store.latest(conn, ids)} if ids else set()
    n_alerts = len(alerts.list_alerts(conn, ward=code, ward_set=set_name, ward_devices=ids, open_only=True,
                                      limit=MAX_LIMIT)[0])
    n_incidents = len(incidents.list_incidents(conn, with_contact=False, status="open", ward=code,
                                               ward_set=set_name, limit=MAX_LIMIT))
    info = WardInfo(set=set_name, set_valid_from=info_set.valid_from, set_valid_to=info_set.valid_to, code=unit.code, name=unit.name, unit_type=unit.unit_type,
                    district_code=unit.parent_code, district_name=unit.parent_name, area_km2=unit.area_km2,
                    rep_lon=unit.rep_lon, rep_lat=unit.rep_lat)
    return WardOverview(ward=info, devices=counts, metrics=[m for m in KEY_METRICS if m in sent],
                        alerts_open=n_alerts, incidents_open=n_incidents,
                        dossiers=_dossiers(conn, set_name, code, last_day))


class DevicePage(BaseModel):
    items: list[DeviceOut]
    next_cursor: str | None


@router.get("/wards/{set_name}/{code}/devices", response_model=DevicePage, responses=problems(400, 404, 422))
def ward_devices(set_name: SetPath, code: CodePath, conn: ConnDep, _: Staff,
                 kind: Annotated[str | None, Query(max_length=32)] = None,
                 state: Annotated[DeviceStateName | None, Query()] = None,
                 cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT) -> DevicePage:
    """The enabled devices lying in the ward's outline in this set, by id."""
    _ward(conn, set_name, code)
    ids = tuple(ward_device_ids(conn, set_name, code))
    with registry_errors():
        page = devices.list_devices(conn, DeviceFilter(kind=kind, state=state, ids=ids),
                                    after=id_cursor(cursor, str), limit=limit)
    return DevicePage(items=[DeviceOut.model_validate(d) for d in page.items],
                      next_cursor=encode_cursor({"id": page.next_after}) if page.next_after else None)


@router.get("/wards/{set_name}/{code}/alerts", response_model=AlertPage, responses=problems(400, 404, 422))
def ward_alerts(set_name: SetPath, code: CodePath, conn: ConnDep, _: Staff, state: StateQ | None = None,
                open_only: Annotated[bool, Query(alias="open", description="not resolved")] = True,
                cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT) -> AlertPage:
    """Alerts labelled with the ward (and with this set or none) or about a device lying in it, newest first;
    open ones by default."""
    _ward(conn, set_name, code)
    items, more = alerts.list_alerts(conn, state=state, ward=code, ward_set=set_name,
                                     ward_devices=ward_device_ids(conn, set_name, code), open_only=open_only,
                                     before_id=id_cursor(cursor), limit=limit)
    return AlertPage(items=[AlertOut(**i) for i in items],
                     next_cursor=encode_cursor({"id": items[-1]["id"]}) if more and items else None)


@router.get("/wards/{set_name}/{code}/incidents", response_model=IncidentPage, responses=problems(400, 404, 422))
def ward_incidents(set_name: SetPath, code: CodePath, conn: ConnDep, _: Staff,
                   status: Annotated[str | None, Query(
                       pattern=r"^(open|done|new|assigned|in_progress|resolved|closed)$")] = "open",
                   cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT) -> IncidentPage:
    """Incidents assigned to the ward in this set at report time, newest first; open ones by default."""
    _ward(conn, set_name, code)
    rows = incidents.list_incidents(conn, with_contact=False, status=status, ward=code, ward_set=set_name,
                                    before_id=id_cursor(cursor), limit=limit + 1)
    page = rows[:limit]
    return IncidentPage(items=[IncidentBrief(**r) for r in page],
                        next_cursor=encode_cursor({"id": page[-1]["id"]}) if len(rows) > limit else None)


@router.get("/wards/{set_name}/{code}/series", response_model=charts.Chart, response_model_by_alias=True,
            responses=problems(404, 422))
def ward_series(set_name: SetPath, code: CodePath, conn: ReadConn, store: StoreDep, settings: SettingsDep,
                _: Staff, metric: charts.MetricsQ = None, range_name: charts.RangeQ = None,
                start: charts.FromQ = None, end: charts.ToQ = None,
                interval_s: charts.IntervalQ = None) -> charts.Chart:
    """Key series over all the ward's devices: per bucket, the lowest and highest reading of any device and the
    mean of all readings (default: 7 days of the key metrics its devices measure)."""
    _ward(conn, set_name, code)
    ids = ward_device_ids(conn, set_name, code)
    first, last = charts.window(range_name or (None if start or end else "7d"), start, end)
    interval = charts.chart_interval(last - first, interval_s)
    if metric:
        metrics = list(dict.fromkeys(metric))
    else:
        sent = {r.metric for r in store.latest(conn, ids)} if ids else set()
        metrics = [m for m in KEY_METRICS if m in sent]
    return charts.build(conn, store, ids, metrics, first, last, interval,
                        str(settings.ingest_catalogue_file) if settings.ingest_catalogue_file else None)
