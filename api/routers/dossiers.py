"""Public-service dossiers: the batch event endpoint of the one-stop-shop (integration role), the procedures
catalogue, dossiers by state, the business calendar and the e-government KPIs."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from psycopg_pool import ConnectionPool
from pydantic import BaseModel, ConfigDict, Field

from api.batches import read_batch
from api.deps import AdminOnly, ConnDep, PoolDep, Principal, ReadConn, SettingsDep, Staff, require
from api.fields import StoredText
from api.json_types import JSON_INT, IsoAwareDateTime, IsoDate, IsoDate2000To2100, JsonBool
from api.openapi import errors, request_body
from api.replica_reads import ReadRoute
from ops_center.auth.roles import Role
from ops_center.db import transaction
from ops_center.dossiers import kpis, procedures
from ops_center.dossiers import service as dossiers
from ops_center.dossiers.calendar import calendar_for, local_date
from ops_center.dossiers.models import HTTP_SOURCE
from ops_center.dossiers.schema import batch_schema
from ops_center.pagination import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, encode_cursor
from ops_center.settings import Settings

router = APIRouter(tags=["dossiers"], route_class=ReadRoute)

Integrators = Annotated[Principal, Depends(require(Role.admin, Role.integration))]
Readers = Annotated[Principal, Depends(require(Role.admin, Role.operator, Role.leader, Role.integration))]
MAX_KPI_DAYS = 3 * 366


Code = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
SHOWN_TEXT = (r"^[^\x00]*[^\x00\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f"
              r"\u3000][^\x00]*$")
"""No NUL, and a character ``str.strip`` keeps (whitespace spelled out: regular expression engines differ on
``\\s``)."""


def _ingest(pool: ConnectionPool, settings: Settings, events: list[Any]) -> dossiers.IngestResult:
    with transaction(pool) as conn:
        return dossiers.ingest_events(conn, events, HTTP_SOURCE, calendar=calendar_for(settings))


class RejectedEvent(BaseModel):
    index: int = Field(description="position of the event in the batch")
    reason: str = Field(description="missing_field, bad_value, bad_timestamp, bad_shape, unknown_procedure, "
                                    "unknown_unit, foreign_unit, conflict, inconsistent_time")
    detail: str = Field(description="names the field and the value")


class IngestOut(BaseModel):
    accepted: int
    duplicates: int = Field(description="events already known with the same content (harmless re-sends)")
    rejected: list[RejectedEvent] = Field(description="kept in dead letters; replay after the fix")


EVENTS_BODY = request_body(
    {k: v for k, v in batch_schema().items() if k != "$schema"},
    description="Dossier events, a JSON array or `{\"events\": [...]}`, at most 10,000 and 8 MiB. Each event is "
                "judged on its own: an event that does not fit this schema, or names an unknown procedure or unit, "
                "is refused in the answer (by index, with the reason) and kept in dead letters; the others are "
                "stored.")


@router.post("/dossiers/events", response_model=IngestOut, openapi_extra=EVENTS_BODY, responses=errors(413))
async def post_events(request: Request, pool: PoolDep, settings: SettingsDep, _: Integrators) -> dict[str, Any]:
    """A batch of dossier events: a JSON array, or ``{"events": [...]}``, at most 10,000 events and 8 MiB; the
    units and procedures they name must be registered first (``POST /units``, ``POST /procedures``). Each event
    is accepted, recognised as a duplicate, or refused (kept in dead letters with its reason): the answer says
    which, by index. The same events arrive on MQTT at ``ops/v1/egov/{unit}/dossiers``."""
    request.state.audit_target = "dossiers:events"
    events = await read_batch(request, pool, HTTP_SOURCE)
    result = await anyio.to_thread.run_sync(partial(_ingest, pool, settings, events))
    request.state.audit_detail = {"accepted": result.accepted, "duplicates": result.duplicates,
                                  "rejected": len(result.rejected)}
    return result.as_json()


class ReplayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ids: list[Annotated[int, Field(ge=1, le=2**53 - 1), JSON_INT]] | None = Field(default=None,
                                                                                   max_length=dossiers.REPLAY_MAX)
    limit: Annotated[int, Field(ge=1, le=dossiers.REPLAY_MAX), JSON_INT] = 1000


@router.post("/dossiers/dead-letters/replay")
def replay(body: ReplayIn, conn: ConnDep, settings: SettingsDep, request: Request, _: AdminOnly) -> dict[str, Any]:
    """Re-apply refused dossier events after their cause was fixed (a procedure or unit added)."""
    request.state.audit_target = "dossiers:dead-letters"
    r = dossiers.replay_dead_letters(conn, ids=body.ids, limit=body.limit, calendar=calendar_for(settings))
    request.state.audit_detail = {"replayed": r.replayed, "ok": r.ok, "failed": r.failed}
    return {"replayed": r.replayed, "ok": r.ok, "failed": r.failed,
            "items": [{"id": i, "ok": ok, "result": res} for i, ok, res in r.results]}


@router.get("/dossiers")
def list_dossiers(conn: ConnDep, settings: SettingsDep, _: Staff,
                  state: Literal["open", "overdue", "at_risk", "resolved"] | None = None,
                  unit: Annotated[str | None, Query(max_length=64)] = None, cursor: str | None = None,
                  limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT) -> dict[str, Any]:
    """Dossiers by id. ``overdue``: open past the due date; ``at_risk``: open, due within one business day."""
    after = decode_cursor(cursor)
    rows = dossiers.list_dossiers(conn, calendar_for(settings), state=state, unit=unit,
                                  after=str(after["id"]) if after and "id" in after else None, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": rows, "next_cursor": encode_cursor({"id": rows[-1]["id"]}) if more and rows else None}


@router.get("/dossiers/calendar")
def get_calendar(settings: SettingsDep, _: Readers,
                 year: Annotated[int, Query(ge=2010, le=2040)]) -> dict[str, Any]:
    """The business calendar of a year: days off (holidays, Tết, compensatory days) and weekend working days."""
    cal = calendar_for(settings)
    info = cal.years.get(year)
    return {
        "year": year,
        "status": info.status if info else "statutory",
        "source": info.source if info else "holidays package (statutory holidays only)",
        "lunar_new_year": info.lunar_new_year.isoformat() if info and info.lunar_new_year else None,
        "hung_kings": info.hung_kings.isoformat() if info and info.hung_kings else None,
        "days_off": [{"date": d.isoformat(), "name": n} for d, n in cal.holidays_in(year)],
        "working_days": [{"date": d.isoformat(), "name": n} for d, n in sorted(cal.working_days.items())
                         if d.year == year],
    }


@router.get("/dossiers/calendar/due")
def due_date(settings: SettingsDep, _: Readers, received_at: IsoAwareDateTime,
             days: Annotated[int, Query(ge=0, le=365)]) -> dict[str, Any]:
    """The due date of a dossier received at ``received_at`` with ``days`` business days of processing."""
    cal = calendar_for(settings)
    due = cal.due_date(received_at, days)
    return {"received_date": local_date(received_at).isoformat(), "days": days, "due_date": due.isoformat()}


@router.get("/dossiers/{dossier_id:path}")
def get_dossier(dossier_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,99}$")], conn: ConnDep, settings: SettingsDep,
                _: Staff) -> dict[str, Any]:
    row = dossiers.get_dossier(conn, dossier_id, calendar_for(settings))
    if row is None:
        raise HTTPException(404, f"dossier_id: no dossier {dossier_id!r}")
    return row


class ProcedureIn(BaseModel):
    """A catalogue entry (see ``ops_center.dossiers.procedures``); ``online_level`` (legacy) and
    ``online_service`` may both be given when they agree."""

    model_config = ConfigDict(extra="forbid")
    name: StoredText = Field(min_length=1, max_length=1000, json_schema_extra={"pattern": SHOWN_TEXT})
    processing_days: Annotated[int, Field(ge=0, le=365), JSON_INT]
    online_level: Annotated[int, Field(ge=1, le=4), JSON_INT] | None = None
    online_service: Literal["none", "partial", "full"] | None = None
    offered_by_post: JsonBool = False
    agency: StoredText = Field(default="", max_length=500)
    full_online_eligible: JsonBool = False
    has_fees: JsonBool = False
    paper_result: JsonBool = False
    citizen_facing: JsonBool = False
    decision_date: IsoDate2000To2100 | None = None
    legal_effective_date: IsoDate2000To2100 | None = None
    public_date: IsoDate2000To2100 | None = None
    parts: list[Literal["name", "steps", "method", "components", "time_limit", "applicants", "agency"]] = Field(
        default_factory=list, max_length=7, json_schema_extra={"uniqueItems": True})


class ProcedureWithCode(ProcedureIn):
    code: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class ProceduresIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    procedures: list[ProcedureWithCode] = Field(min_length=1, max_length=5000)


def _procedure(fields: dict[str, Any], where: str) -> procedures.Procedure:
    try:
        return procedures.validate({k: v for k, v in fields.items() if v is not None}, where)
    except procedures.ProcedureError as exc:
        raise HTTPException(422, str(exc)) from exc


@router.get("/procedures")
def list_procedures(conn: ConnDep, _: Readers, cursor: str | None = None,
                    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT) -> dict[str, Any]:
    after = decode_cursor(cursor)
    rows = procedures.list_procedures(conn, str(after["code"]) if after and "code" in after else "", limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": [p.as_json() for p in rows],
            "next_cursor": encode_cursor({"code": rows[-1].code}) if more and rows else None}


@router.post("/procedures")
def upsert_procedures(body: ProceduresIn, conn: ConnDep, request: Request, _: AdminOnly) -> dict[str, Any]:
    """Insert or update procedures in bulk. Dossiers already received keep the due date they were given."""
    request.state.audit_target = "procedures"
    items = [_procedure(p.model_dump(), f"procedures[{i}]") for i, p in enumerate(body.procedures)]
    codes = [p.code for p in items]
    if len(set(codes)) != len(codes):
        raise HTTPException(422, "procedures: the same code appears twice")
    request.state.audit_detail = {"count": len(items)}
    return {"upserted": procedures.upsert(conn, items)}


@router.put("/procedures/{code}")
def put_procedure(code: Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")], body: ProcedureIn,
                  conn: ConnDep, request: Request, _: AdminOnly) -> dict[str, Any]:
    request.state.audit_target = f"procedure:{code}"
    proc = _procedure({"code": code, **body.model_dump()}, "procedure")
    procedures.upsert(conn, [proc])
    return proc.as_json()


@router.get("/kpis/dossiers")
def get_kpis(conn: ReadConn, _: Staff,
             level: Literal["province", "district", "ward", "unit"] = "province",
             period: Literal["day", "month", "year"] = "month",
             start: Annotated[IsoDate | None, Query(alias="from")] = None,
             end: Annotated[IsoDate | None, Query(alias="to", description="last day, inclusive")] = None,
             code: Annotated[list[Annotated[str, Field(max_length=64)]] | None, Query(max_length=500)] = None,
             ) -> dict[str, Any]:
    """KPIs per group and period (``from``/``to`` are local dates, both inclusive; default: this year to date).
    See ``ops_center.dossiers.kpis`` for the definitions."""
    today = local_date(datetime.now().astimezone())
    first = start or today.replace(month=1, day=1)
    last = end or today
    if last < first:
        raise HTTPException(422, f"to: {last} is before from {first}")
    if (last - first).days > MAX_KPI_DAYS:
        raise HTTPException(422, f"to: a window of {(last - first).days + 1} days; at most {MAX_KPI_DAYS}")
    items = kpis.compute(conn, level, period, first, last + timedelta(days=1), codes=code)
    return {"level": level, "period": period, "from": first.isoformat(), "to": last.isoformat(),
            "items": items, "notes": kpis.notes_for(level, items)}
