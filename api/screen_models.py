"""Response models shared by the drill-down routes (device detail, ward detail, device markers): one place for the
shapes the screens read, so the OpenAPI document carries real schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import HTTPException
from pydantic import BaseModel, ConfigDict, Field

from api.routers.alerts import AlertOut
from ops_center.pagination import decode_cursor

DeviceStateName = Literal["online", "offline", "stale", "disabled"]


class Problem(BaseModel):
    """RFC 9457 problem details (``application/problem+json``); ``field`` and ``value`` name what was refused."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    field: str | None = None
    value: Any = None


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the problem answers a route gives besides 401/403/422."""
    text = {400: "bad cursor", 401: "not authenticated", 403: "role not allowed", 404: "not found",
            422: "invalid parameter (the field and the value are named)"}
    schema = Problem.model_json_schema()
    return {s: {"description": text.get(s, "error"), "content": {"application/problem+json": {"schema": schema}}}
            for s in (401, 403, *statuses)}


class AlertPage(BaseModel):
    items: list[AlertOut]
    next_cursor: str | None


class IncidentBrief(BaseModel):
    """An incident as the drill-down lists show it (never the reporter's contact)."""

    model_config = ConfigDict(extra="ignore")
    id: int
    title: str
    category: str
    category_label_vi: str
    category_label_en: str
    severity: str
    status: str
    source: str
    ward_set: str | None
    ward_code: str | None
    ward_name: str | None
    reported_at: datetime
    due_at: datetime
    resolved_at: datetime | None
    report_count: int
    assigned_unit: str | None
    overdue: bool


class IncidentPage(BaseModel):
    items: list[IncidentBrief]
    next_cursor: str | None


class DeviceCounts(BaseModel):
    total: int = 0
    online: int = 0
    offline: int = 0
    stale: int = 0
    disabled: int = 0


class Marker(BaseModel):
    """A device on the map: where, what, how it is."""

    id: str
    name: str
    kind: str
    lon: float | None
    lat: float | None
    ward_code: str | None = Field(description="the ward it lies in, in the requested boundary set")
    state: DeviceStateName
    last_seen: datetime | None
    alerts: int = Field(description="open, unmuted alerts about the device")
    worst_severity: str | None


class MarkerPage(BaseModel):
    set: str
    items: list[Marker]
    next_cursor: str | None


def id_cursor(cursor: str | None, kind: type = int) -> Any:
    """The ``id`` of a cursor this API returned (``None`` without one); 400 for anything else."""
    key = decode_cursor(cursor)
    if key is None:
        return None
    value = key.get("id")
    if type(value) is not kind:
        raise HTTPException(400, "cursor: not a cursor returned by this API")
    return value
