"""Public-service dossiers: the batch event endpoint of the one-stop-shop (integration role), the procedures
catalogue, dossiers by state, the business calendar and the e-government KPIs."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial
from typing import Annotated, Any, Literal

import anyio
import orjson
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from psycopg_pool import ConnectionPool
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

from api.deps import AdminOnly, ConnDep, PoolDep, Principal, SettingsDep, Staff, require
from api.json_types import JSON_INT, IsoAwareDateTime, IsoDate, JsonBool
from api.openapi import errors, request_body
from ops_center.auth.roles import Role
from ops_center.db import transaction
from ops_center.dossiers import kpis, procedures
from ops_center.dossiers import service as dossiers
from ops_center.dossiers.calendar import calendar_for, local_date
from ops_center.dossiers.models import HTTP_SOURCE, shown
from ops_center.pagination import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, encode_cursor
from ops_center.settings import Settings

router = APIRouter(tags=["dossiers"])

Integrators = Annotated[Principal, Depends(require(Role.admin, Role.integration))]
Readers = Annotated[Principal, Depends(require(Role.admin, Role.operator, Role.leader, Role.integration))]
MAX_BODY = 8 * 1024 * 1024
MAX_KPI_DAYS = 3 * 366


Code = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]


class _Event(BaseModel):
    """Documentation of the event shape; ``ops_center.dossiers.models.parse_event`` validates each event."""

    model_config = ConfigDict(extra="forbid")
    dossier_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,99}$")
    at: AwareDatetime = Field(description="ISO 8601 with a UTC offset, from 2000-01-01 to now (+10 min)")
    unit: Code | None = Field(default=None, description="unit code (the one-stop-shop desk)")


class ReceivedEvent(_Event):
    type: Literal["received"]
    channel: Literal["online_l3", "online_l4", "counter", "postal"]
    procedure: Code = Field(description="a code of the procedures catalogue")
    unit: Code
    ward: Code | None = Field(default=None, description="ward code; default: the unit's ward")
    ward_set: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$",
                                 description="boundary set of the ward code; default: the set in force that day")


class ResolvedEvent(_Event):
    type: Literal["resolved"]


class ReturnedEvent(_Event):
    type: Literal["returned"]
    channel: Literal["postal", "counter"]


Event = Annotated[ReceivedEvent | ResolvedEvent | ReturnedEvent, Field(discriminator="type")]


class EventBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: list[Event] = Field(max_length=dossiers.MAX_BATCH)


EVENTS_BODY = request_body(
    TypeAdapter(Annotated[list[Event], Field(max_length=dossiers.MAX_BATCH)] | EventBatch),
    description="Dossier events, a JSON array or `{\"events\": [...]}`, at most 10,000 and 8 MiB. Each event is "
                "judged on its own: an event that does not fit this schema, or names an unknown procedure or unit, "
                "is refused in the answer (by index, with the reason) and kept in dead letters; the others are "
                "stored.")


def _ingest(pool: ConnectionPool, settings: Settings, events: list[Any]) -> dossiers.IngestResult:
    with transaction(pool) as conn:
        return dossiers.ingest_events(conn, events, HTTP_SOURCE, calendar=calendar_for(settings))


def _dead_body(pool: ConnectionPool, body: bytes, reason: str, detail: str) -> None:
    with transaction(pool) as conn:
        conn.execute("INSERT INTO dead_letters (topic, payload, payload_size, reason, detail, field) "
                     "VALUES (%s, %s, %s, %s, %s, 'body')",
                     (HTTP_SOURCE, body[: dossiers.DEAD_LETTER_PAYLOAD_CAP], len(body), reason, detail))


@router.post("/dossiers/events", openapi_extra=EVENTS_BODY, responses=errors(413))
async def post_events(request: Request, pool: PoolDep, settings: SettingsDep, _: Integrators) -> dict[str, Any]:
    """A batch of dossier events: a JSON array, or ``{"events": [...]}``, at most 10,000 events and 8 MiB.
    Each event is accepted, recognised as a duplicate, or refused (kept in dead letters with its reason): the
    answer says which, by index."""
    request.state.audit_target = "dossiers:events"
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise HTTPException(413, f"body: {declared} bytes; at most {MAX_BODY}")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise HTTPException(413, f"body: more than {MAX_BODY} bytes")
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        detail = f"body: not valid JSON ({exc})"
        await anyio.to_thread.run_sync(_dead_body, pool, body, "parse_error", detail)
        raise HTTPException(400, detail) from exc
    events = doc.get("events") if isinstance(doc, dict) and set(doc) == {"events"} else doc
    if not isinstance(events, list):
        detail = f"body: expected a JSON array of events or {{\"events\": [...]}}, got {shown(doc)}"
        await anyio.to_thread.run_sync(_dead_body, pool, body, "bad_shape", detail)
        raise HTTPException(422, detail)
    if len(events) > dossiers.MAX_BATCH:
        raise HTTPException(413, f"events: {len(events)} events; at most {dossiers.MAX_BATCH} per batch")
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
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=1000)
    processing_days: Annotated[int, Field(ge=0, le=365), JSON_INT]
    online_level: Annotated[int, Field(ge=1, le=4), JSON_INT] = 2
    offered_by_post: JsonBool = False
    agency: str = Field(default="", max_length=500)


class ProcedureWithCode(ProcedureIn):
    code: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class ProceduresIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    procedures: list[ProcedureWithCode] = Field(min_length=1, max_length=5000)


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
    items = [procedures.Procedure(**p.model_dump()) for p in body.procedures]
    codes = [p.code for p in items]
    if len(set(codes)) != len(codes):
        raise HTTPException(422, "procedures: the same code appears twice")
    request.state.audit_detail = {"count": len(items)}
    return {"upserted": procedures.upsert(conn, items)}


@router.put("/procedures/{code}")
def put_procedure(code: Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")], body: ProcedureIn,
                  conn: ConnDep, request: Request, _: AdminOnly) -> dict[str, Any]:
    request.state.audit_target = f"procedure:{code}"
    proc = procedures.Procedure(code=code, **body.model_dump())
    procedures.upsert(conn, [proc])
    return proc.as_json()


@router.get("/kpis/dossiers")
def get_kpis(conn: ConnDep, _: Staff,
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
