"""Alerts: the list operators live in (filter by state, severity, ward, rule; cursor pagination), one alert,
acknowledge, resolve, assign, the timeline and the notifications sent for it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from alerts import lifecycle, service
from alerts.errors import AlertConflict, AlertNotFound, UnitNotFound
from api.deps import ConnDep, Operators, Staff
from api.openapi import errors
from ops_center.pagination import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, encode_cursor

router = APIRouter(tags=["alerts"])

AlertId = Annotated[int, Path(ge=1, le=2**53 - 1)]
StateQ = Literal["firing", "acknowledged", "resolved", "muted"]
SeverityQ = Literal["critical", "major", "minor", "info"]


class AlertOut(BaseModel):
    id: int
    fingerprint: str
    rule_id: int | None
    rule_name: str
    severity: str
    state: StateQ
    muted: bool
    muted_reason: str | None
    labels: dict[str, Any]
    summary: str
    value: float | None = None
    starts_at: datetime
    ends_at: datetime | None
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    ack_note: str | None
    assigned_unit: str | None
    reopen_count: int = 0


class AlertPage(BaseModel):
    items: list[AlertOut]
    next_cursor: str | None


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=2000)


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    unit: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


class TimelineEntry(BaseModel):
    id: int
    at: datetime
    kind: str
    actor: str | None
    detail: dict[str, Any]


class TimelineOut(BaseModel):
    alert_id: int
    items: list[TimelineEntry]


class NotificationPage(BaseModel):
    items: list[dict[str, Any]]
    next_cursor: str | None


def _cursor_id(cursor: str | None) -> int | None:
    key = decode_cursor(cursor)
    if key is None:
        return None
    value = key.get("id")
    if not isinstance(value, int) or isinstance(value, bool):
        raise HTTPException(400, "cursor: not a cursor returned by this API")
    return value


@router.get("/alerts", response_model=AlertPage)
def list_alerts(conn: ConnDep, _: Staff, state: StateQ | None = None, severity: SeverityQ | None = None,
                ward: Annotated[str | None, Query(max_length=64)] = None,
                rule: Annotated[str | None, Query(max_length=200, description="rule id or name")] = None,
                cursor: Annotated[str | None, Query(max_length=1024)] = None,
                limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT) -> AlertPage:
    items, more = service.list_alerts(conn, state=state, severity=severity, ward=ward, rule=rule,
                                      before_id=_cursor_id(cursor), limit=limit)
    return AlertPage(items=[AlertOut(**i) for i in items],
                     next_cursor=encode_cursor({"id": items[-1]["id"]}) if more and items else None)


@router.get("/alerts/{alert_id}", response_model=AlertOut)
def get_alert(alert_id: AlertId, conn: ConnDep, _: Staff) -> AlertOut:
    item = service.get_alert(conn, alert_id)
    if item is None:
        raise HTTPException(404, f"alert_id: no alert {alert_id}")
    return AlertOut(**item)


def _act(request: Request, alert_id: int, fn: Any) -> AlertOut:
    request.state.audit_target = f"alert:{alert_id}"
    try:
        row = fn()
    except AlertNotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except UnitNotFound as exc:
        raise HTTPException(422, str(exc)) from exc
    except AlertConflict as exc:
        raise HTTPException(409, str(exc)) from exc
    from alerts.models import alert_json

    return AlertOut(**alert_json(row))


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertOut, responses=errors(409))
def acknowledge(alert_id: AlertId, body: NoteIn, conn: ConnDep, principal: Operators,
                request: Request) -> AlertOut:
    return _act(request, alert_id, lambda: lifecycle.acknowledge(conn, alert_id, principal.name, body.note))


@router.post("/alerts/{alert_id}/resolve", response_model=AlertOut, responses=errors(409))
def resolve(alert_id: AlertId, body: NoteIn, conn: ConnDep, principal: Operators, request: Request) -> AlertOut:
    return _act(request, alert_id, lambda: lifecycle.resolve_by(conn, alert_id, principal.name, body.note))


@router.post("/alerts/{alert_id}/assign", response_model=AlertOut, responses=errors(409))
def assign(alert_id: AlertId, body: AssignIn, conn: ConnDep, principal: Operators, request: Request) -> AlertOut:
    request.state.audit_detail = {"unit": body.unit}
    return _act(request, alert_id, lambda: lifecycle.assign(conn, alert_id, body.unit, principal.name))


@router.get("/alerts/{alert_id}/timeline", response_model=TimelineOut)
def timeline(alert_id: AlertId, conn: ConnDep, _: Staff) -> TimelineOut:
    if lifecycle.get(conn, alert_id) is None:
        raise HTTPException(404, f"alert_id: no alert {alert_id}")
    return TimelineOut(alert_id=alert_id, items=[TimelineEntry(**r) for r in lifecycle.timeline(conn, alert_id)])


@router.get("/alerts/{alert_id}/notifications", response_model=NotificationPage)
def alert_notifications(alert_id: AlertId, conn: ConnDep, _: Operators,
                        cursor: Annotated[str | None, Query(max_length=1024)] = None,
                        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT) -> NotificationPage:
    rows, more = service.deliveries(conn, alert_id=alert_id, before_id=_cursor_id(cursor), limit=limit)
    return NotificationPage(items=rows, next_cursor=encode_cursor({"id": rows[-1]["id"]}) if more and rows else None)


@router.get("/notifications", response_model=NotificationPage)
def notifications(conn: ConnDep, _: Operators,
                  status: Literal["pending", "sending", "delivered", "failed"] | None = None,
                  cursor: Annotated[str | None, Query(max_length=1024)] = None,
                  limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT) -> NotificationPage:
    """The outbox with its delivery log (every attempt: outcome, status code, error, worker)."""
    rows, more = service.deliveries(conn, status=status, before_id=_cursor_id(cursor), limit=limit)
    return NotificationPage(items=rows, next_cursor=encode_cursor({"id": rows[-1]["id"]}) if more and rows else None)

