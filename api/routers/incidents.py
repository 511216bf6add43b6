"""Incidents for operators: report, list, read, move through statuses, comment; categories.

Reporter contacts are in the answers for admin and operator only (a leader reads incidents without them). The
ward of a new report comes from ``geo.service.assign_ward`` in the boundary set in force at report time.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from api.deps import AdminOnly, ConnDep, Operators, Principal, Staff
from api.fields import StoredText
from api.json_types import JSON_INT, IsoAwareDateTime, JsonBool
from api.openapi import errors
from geo.service import assign_ward
from ops_center.auth.roles import Role
from ops_center.incidents import categories, service
from ops_center.incidents.models import Contact as ContactModel
from ops_center.incidents.models import IncidentError, NewReport
from ops_center.pagination import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, encode_cursor

router = APIRouter(tags=["incidents"])

CONTACT_ROLES = frozenset({Role.admin, Role.operator})
CategoryCode = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
UnitCode = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
Severity = Literal["critical", "major", "minor", "info"]


def _fail(exc: IncidentError) -> HTTPException:
    return HTTPException(exc.status, exc.detail)


def sees_contact(principal: Principal) -> bool:
    return principal.role in CONTACT_ROLES


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: StoredText | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=40, pattern=r"^[0-9+() .-]{3,40}$")
    email: StoredText | None = Field(default=None, max_length=200, pattern=r"^[^@\s]{1,100}@[^@\s]{1,99}$")


class IncidentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: StoredText = Field(min_length=1, max_length=200)
    description: StoredText = Field(default="", max_length=5000)
    category: CategoryCode
    severity: Severity | None = None
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False, strict=True)  # a number, not "105.1"
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False, strict=True)
    address: StoredText | None = Field(default=None, max_length=500)
    reporter: ContactIn | None = None
    reported_at: IsoAwareDateTime | None = None  # a year 9999 plus the SLA overflowed
    assigned_unit: UnitCode | None = None
    source: Literal["operator", "citizen_app"] = "operator"


class TransitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: Literal["new", "assigned", "in_progress", "resolved", "closed"]
    note: StoredText = Field(default="", max_length=5000)
    unit: UnitCode | None = None


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: StoredText = Field(min_length=1, max_length=5000)


class CategoryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label_vi: StoredText = Field(min_length=1, max_length=200)
    label_en: StoredText = Field(min_length=1, max_length=200)
    default_severity: Severity
    sla_hours: Annotated[int, Field(ge=1, le=8760), JSON_INT]
    device_kinds: list[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_.-]{0,63}$")]] = Field(default=[],
                                                                                           max_length=50)
    description: StoredText = Field(default="", max_length=1000)
    sort_order: Annotated[int, Field(ge=-1_000_000, le=1_000_000), JSON_INT] = 100
    enabled: JsonBool = True


IncidentId = Annotated[int, Path(ge=1, le=2**53 - 1)]


@router.get("/incidents/categories")
def list_categories(conn: ConnDep, _: Staff, include_disabled: bool = False) -> dict[str, Any]:
    return {"items": [c.as_json() for c in categories.list_categories(conn, include_disabled)]}


@router.put("/incidents/categories/{code}", responses=errors(400))
def put_category(code: Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,39}$")], body: CategoryIn,
                 conn: ConnDep, request: Request, _: AdminOnly) -> dict[str, Any]:
    request.state.audit_target = f"incident_category:{code}"
    try:
        cat = categories.validate({"code": code, **body.model_dump()})
    except IncidentError as exc:
        raise _fail(exc) from exc
    categories.upsert(conn, [cat])
    return cat.as_json()


@router.get("/incidents")
def list_incidents(conn: ConnDep, principal: Staff,
                   status: Annotated[str | None, Query(pattern=r"^(open|done|new|assigned|in_progress|resolved|closed)$")] = None,
                   category: Annotated[str | None, Query(max_length=40)] = None,
                   ward: Annotated[str | None, Query(max_length=64)] = None,
                   source: Annotated[Literal["operator", "citizen_app", "device_event"] | None, Query()] = None,
                   cursor: str | None = None,
                   limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT) -> dict[str, Any]:
    """Newest first. ``status=open`` means new, assigned or in progress; ``done`` resolved or closed."""
    after = decode_cursor(cursor)
    before_id = None
    if after is not None:
        try:
            before_id = int(after["id"])
        except (KeyError, TypeError, ValueError) as exc:
            raise HTTPException(400, "cursor: not a cursor returned by this API") from exc
    try:
        rows = service.list_incidents(conn, with_contact=sees_contact(principal), status=status, category=category,
                                      ward=ward, source=source, before_id=before_id, limit=limit + 1)
    except IncidentError as exc:
        raise _fail(exc) from exc
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": rows, "next_cursor": encode_cursor({"id": rows[-1]["id"]}) if more and rows else None}


@router.post("/incidents", status_code=201, responses=errors(409))
def create_incident(body: IncidentIn, conn: ConnDep, request: Request, principal: Operators) -> dict[str, Any]:
    """File a report. A report of the same category within 200 m and 2 h of an open incident is linked to it:
    the answer is that incident, with ``linked: true`` and its grown ``report_count``."""
    c = body.reporter or ContactIn()
    report = NewReport(
        title=body.title, category=body.category, source=body.source, lon=body.lon, lat=body.lat,
        description=body.description, severity=body.severity, address=body.address,
        reporter=ContactModel(c.name, c.phone, c.email), reported_at=body.reported_at,
        assigned_unit=body.assigned_unit,
    )
    try:
        row, linked = service.file_report(conn, report, actor=principal.name, ward_resolver=assign_ward)
    except IncidentError as exc:
        raise _fail(exc) from exc
    request.state.audit_target = f"incident:{row['id']}"
    request.state.audit_detail = {"linked": linked, "category": body.category}
    return {**service.to_json(row, with_contact=sees_contact(principal)), "linked": linked}


@router.get("/incidents/{incident_id}")
def get_incident(incident_id: IncidentId, conn: ConnDep, principal: Staff) -> dict[str, Any]:
    try:
        return service.get_incident(conn, incident_id, with_contact=sees_contact(principal))
    except IncidentError as exc:
        raise _fail(exc) from exc


@router.post("/incidents/{incident_id}/transition", responses=errors(409))
def transition(incident_id: IncidentId, body: TransitionIn, conn: ConnDep, request: Request,
               principal: Operators) -> dict[str, Any]:
    """Move the incident: new → assigned (needs ``unit``) → in_progress → resolved → closed; resolved or closed →
    in_progress reopens; assigned → assigned hands over to another unit. Anything else: 409 naming what is allowed."""
    request.state.audit_target = f"incident:{incident_id}"
    request.state.audit_detail = {"to": body.to}
    try:
        row = service.transition(conn, incident_id, body.to, actor=principal.name, note=body.note, unit=body.unit)
    except IncidentError as exc:
        raise _fail(exc) from exc
    return service.to_json(row, with_contact=sees_contact(principal))


@router.post("/incidents/{incident_id}/comments", status_code=201)
def comment(incident_id: IncidentId, body: CommentIn, conn: ConnDep, request: Request,
            principal: Operators) -> dict[str, Any]:
    request.state.audit_target = f"incident:{incident_id}"
    try:
        return service.add_comment(conn, incident_id, body.text, actor=principal.name)
    except IncidentError as exc:
        raise _fail(exc) from exc


@router.get("/incidents/{incident_id}/timeline")
def get_timeline(incident_id: IncidentId, conn: ConnDep, _: Staff) -> dict[str, Any]:
    try:
        return {"items": service.timeline(conn, incident_id)}
    except IncidentError as exc:
        raise _fail(exc) from exc


@router.get("/incidents/{incident_id}/reports")
def get_reports(incident_id: IncidentId, conn: ConnDep, principal: Staff) -> dict[str, Any]:
    """Every report filed for this incident (the first and the linked duplicates)."""
    try:
        return {"items": service.reports(conn, incident_id, with_contact=sees_contact(principal))}
    except IncidentError as exc:
        raise _fail(exc) from exc
