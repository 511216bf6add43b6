"""Device drill-down for the screens (staff roles): a device's overview (latest values, the thresholds that apply
to it), its charts (min–max band and mean from the rollups), status history, alerts and incidents; and the device
markers of the map. Dead letters a device caused are ``GET /dead-letters?device=`` (operators)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from alerts import service as alerts
from alerts.rules.applicable import thresholds_for
from api import charts
from api.deps import ConnDep, ReadConn, SettingsDep, Staff, StoreDep
from api.placement import placement, resolve_set, ward_unit_name
from api.replica_reads import ReadRoute
from api.routers.alerts import AlertOut, SeverityQ, StateQ
from api.routers.devices import DeviceId, DeviceOut, registry_errors
from api.screen_models import (
    AlertPage,
    DeviceStateName,
    IncidentBrief,
    IncidentPage,
    Marker,
    MarkerPage,
    id_cursor,
    problems,
)
from geo.store import NAME_RE
from ops_center import events
from ops_center.db import Conn
from ops_center.devices import service as devices
from ops_center.devices.models import Device, DeviceFilter
from ops_center.incidents import service as incidents
from ops_center.pagination import DEFAULT_LIMIT, MAX_LIMIT, encode_cursor
from ops_center.readings import ReadingsStore

router = APIRouter(tags=["device detail"], route_class=ReadRoute)
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=1024)]


class LatestValue(BaseModel):
    metric: str
    time: datetime
    value: float
    unit: str | None


class Threshold(BaseModel):
    """A threshold rule that applies to the device (by itself, its kind, its ward or all devices)."""

    rule_id: int
    name: str
    severity: str
    metric: str
    operator: str
    value: float
    clear: float | None
    for_s: float
    scope: str


class DeviceOverview(BaseModel):
    device: DeviceOut
    state: DeviceStateName
    kind_label_vi: str | None
    kind_label_en: str | None
    ward_name: str | None = Field(description="name of the device's ward (in the set in force)")
    metrics: list[str] = Field(description="the kind's metrics, then any other metric the device has sent")
    latest: list[LatestValue]
    thresholds: list[Threshold]
    open_alerts: int
    open_incidents: int


class StatusChange(BaseModel):
    id: int
    at: datetime = Field(description="when the status was recorded")
    state: str
    previous: str | None
    said_at: datetime | None = Field(description="the time the device (or its last will) gave")


class StatusHistory(BaseModel):
    items: list[StatusChange]
    next_cursor: str | None


def _device(conn: Conn, device_id: str) -> Device:
    with registry_errors():
        return devices.require_device(conn, device_id)


def _metrics(conn: Conn, store: ReadingsStore, device: Device) -> tuple[list[str], list[str], list[str] | None]:
    """(metrics, kind labels vi/en): the kind's metrics first, then what else the device has sent."""
    kind = next((k for k in devices.list_kinds(conn) if k.code == device.kind), None)
    sent = [r.metric for r in store.latest(conn, [device.id])]
    metrics = list(kind.metrics) if kind else []
    metrics += [m for m in sent if m not in metrics]
    labels = [kind.label_vi, kind.label_en] if kind else None
    return metrics, sent, labels


@router.get("/devices/{device_id}/overview", response_model=DeviceOverview, responses=problems(404, 422))
def overview(device_id: DeviceId, conn: ConnDep, store: StoreDep, settings: SettingsDep,
             _: Staff) -> DeviceOverview:
    """What the device detail screen shows first: the device, its latest values and the alert thresholds of the
    threshold rules whose scope takes it in."""
    device = _device(conn, device_id)
    metrics, _sent, labels = _metrics(conn, store, device)
    cat = charts.catalogue(str(settings.ingest_catalogue_file) if settings.ingest_catalogue_file else None)
    latest = [LatestValue(metric=r.metric, time=r.time, value=r.value,
                          unit=cat[r.metric].unit if r.metric in cat else None)
              for r in store.latest(conn, [device.id])]
    thresholds = [Threshold(**asdict(t)) for t in thresholds_for(conn, device.id, device.kind, device.ward_code)]
    open_alerts = alerts.open_by_device(conn, [device.id]).get(device.id, (0, ""))[0]
    open_incidents = len(incidents.list_incidents(conn, with_contact=False, status="open", device=device.id,
                                                  limit=MAX_LIMIT))
    ward_name = ward_unit_name(conn, device.ward_set, device.ward_code)
    return DeviceOverview(device=DeviceOut.model_validate(device), state=device.state,
                          kind_label_vi=labels[0] if labels else None, kind_label_en=labels[1] if labels else None,
                          ward_name=ward_name,
                          metrics=metrics, latest=latest, thresholds=thresholds, open_alerts=open_alerts,
                          open_incidents=open_incidents)


@router.get("/devices/{device_id}/series", response_model=charts.Chart, response_model_by_alias=True,
            responses=problems(404, 422))
def series(device_id: DeviceId, conn: ReadConn, store: StoreDep, settings: SettingsDep, _: Staff,
           metric: charts.MetricsQ = None, range_name: charts.RangeQ = None, start: charts.FromQ = None,
           end: charts.ToQ = None, interval_s: charts.IntervalQ = None) -> charts.Chart:
    """A chart per metric: buckets with count, min, max and mean. Windows of whole hours or days come from the
    hourly or daily rollup; up to two days, buckets of minutes come from raw readings. Default metrics: the
    device's (see ``overview``)."""
    device = _device(conn, device_id)
    first, last = charts.window(range_name, start, end)
    interval = charts.chart_interval(last - first, interval_s)
    metrics = list(dict.fromkeys(metric)) if metric else _metrics(conn, store, device)[0]
    return charts.build(conn, store, [device.id], metrics, first, last, interval,
                        str(settings.ingest_catalogue_file) if settings.ingest_catalogue_file else None)


@router.get("/devices/{device_id}/status-history", response_model=StatusHistory, responses=problems(400, 404))
def status_history(device_id: DeviceId, conn: ConnDep, _: Staff, cursor: Cursor = None,
                   limit: Limit = DEFAULT_LIMIT) -> StatusHistory:
    """Each change of the device's online/offline status, newest first (from the live-feed event log)."""
    device = _device(conn, device_id)
    rows, more = events.history(conn, "device_status", device.id, before_id=id_cursor(cursor), limit=limit)
    items = []
    for r in rows:
        said = r.payload.get("at")
        items.append(StatusChange(id=r.id, at=r.at, state=str(r.payload.get("state")),
                                  previous=r.payload.get("previous"),
                                  said_at=datetime.fromtimestamp(float(said), UTC)
                                  if isinstance(said, int | float) else None))
    return StatusHistory(items=items, next_cursor=encode_cursor({"id": rows[-1].id}) if more and rows else None)


@router.get("/devices/{device_id}/alerts", response_model=AlertPage, responses=problems(400, 404))
def device_alerts(device_id: DeviceId, conn: ConnDep, _: Staff, state: StateQ | None = None,
                  open_only: Annotated[bool, Query(alias="open")] = False, cursor: Cursor = None,
                  limit: Limit = DEFAULT_LIMIT) -> AlertPage:
    """Alerts about the device (its ``device`` label), newest first; ``open=true``: not resolved."""
    device = _device(conn, device_id)
    items, more = alerts.list_alerts(conn, state=state, device=device.id, open_only=open_only,
                                     before_id=id_cursor(cursor), limit=limit)
    return AlertPage(items=[AlertOut(**i) for i in items],
                     next_cursor=encode_cursor({"id": items[-1]["id"]}) if more and items else None)


IncidentStatusQ = Annotated[str | None, Query(pattern=r"^(open|done|new|assigned|in_progress|resolved|closed)$")]


@router.get("/devices/{device_id}/incidents", response_model=IncidentPage, responses=problems(400, 404))
def device_incidents(device_id: DeviceId, conn: ConnDep, _: Staff, status: IncidentStatusQ = None,
                     cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT) -> IncidentPage:
    """Incidents the device's events reported (or were linked to), newest first."""
    device = _device(conn, device_id)
    rows = incidents.list_incidents(conn, with_contact=False, status=status, device=device.id,
                                    before_id=id_cursor(cursor), limit=limit + 1)
    page = rows[:limit]
    return IncidentPage(items=[IncidentBrief(**r) for r in page],
                        next_cursor=encode_cursor({"id": page[-1]["id"]}) if len(rows) > limit else None)


# ---------------------------------------------------------------------------------------------- map markers

MarkerLimit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
SET_RULE = {"pattern": NAME_RE.pattern}  # documented; resolve_set refuses naming the field


@router.get("/map/devices", response_model=MarkerPage, responses=problems(400, 404, 422))
def markers(conn: ConnDep, _: Staff,
            set_name: Annotated[str | None, Query(alias="set", max_length=200, json_schema_extra=SET_RULE,
                                                  description="boundary set for ward codes; default: in force")] = None,
            kind: Annotated[str | None, Query(max_length=32)] = None,
            ward: Annotated[str | None, Query(max_length=64, description="ward code in the set")] = None,
            state: Annotated[DeviceStateName | None, Query()] = None,
            severity: Annotated[SeverityQ | None, Query(description="only devices with an open alert of it")] = None,
            cursor: Cursor = None, limit: MarkerLimit = MAX_LIMIT) -> MarkerPage:
    """Device markers by id: position, kind, state and open alerts, with the ward of the requested set."""
    name = resolve_set(conn, set_name)
    wards = placement(conn, name)
    ids = tuple(d for d, code in wards.items() if code == ward) if ward is not None else None
    with registry_errors():
        page = devices.list_devices(conn, DeviceFilter(kind=kind, state=state, ids=ids),
                                    after=id_cursor(cursor, str), limit=limit)
    open_alerts = alerts.open_by_device(conn, [d.id for d in page.items])
    items = []
    for d in page.items:
        count, worst = open_alerts.get(d.id, (0, None))
        if severity is not None and worst != severity:
            continue
        items.append(Marker(id=d.id, name=d.name, kind=d.kind, lon=d.lon, lat=d.lat, ward_code=wards.get(d.id),
                            state=d.state, last_seen=d.last_seen, alerts=count, worst_severity=worst))
    return MarkerPage(set=name, items=items,
                      next_cursor=encode_cursor({"id": page.next_after}) if page.next_after else None)

