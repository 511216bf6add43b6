"""The e-government feeds besides dossiers (writing roles: admin, integration): petitions, documents exchanged
between units, online meeting sessions, dated unit facts; and the readiness answers ("x of y") for any date
(reading roles: admin, operator, leader). Every batch: a JSON array or ``{"events": [...]}``, at most 10,000 items
and 8 MiB; each item accepted, a duplicate, or refused and kept in dead letters with its reason; admins replay a
feed's dead letters after a fix (``POST /egov/dead-letters/replay``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from psycopg_pool import ConnectionPool
from pydantic import BaseModel, ConfigDict, Field

from api.batches import read_batch
from api.deps import AdminOnly, ConnDep, PoolDep, Principal, ReadConn, SettingsDep, Staff, require
from api.json_types import JSON_INT, IsoDate, IsoDate2000To2100
from api.openapi import errors, request_body
from api.replica_reads import ReadRoute
from ops_center import feed_replay
from ops_center.auth.roles import Role
from ops_center.db import Conn, transaction
from ops_center.devices import credentials
from ops_center.devices import lookups as device_lookups
from ops_center.dossiers import refused
from ops_center.dossiers.calendar import calendar_for, local_date
from ops_center.dossiers.models import CODE_RE
from ops_center.feeds import FeedResult
from ops_center.pagination import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, encode_cursor
from ops_center.petitions import schema as petition_schema
from ops_center.petitions import service as petitions
from ops_center.petitions.models import HTTP_SOURCE as PETITIONS_SOURCE
from ops_center.readiness import exchange, facts, report
from ops_center.readiness import schema as readiness_schema

router = APIRouter(tags=["e-government feeds"], route_class=ReadRoute)
Integrators = Annotated[Principal, Depends(require(Role.admin, Role.integration))]
UNIT_CODE = f"^{CODE_RE.pattern}$"  # the whole value, as the feeds match CODE_RE (a bare pattern is a search)


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    """``openapi_extra`` of a batch route: the feed's JSON Schema (the route reads the raw body itself)."""
    return request_body({k: v for k, v in schema.items() if k != "$schema"},
                        description="a JSON array of items or `{\"events\": [...]}`, at most 10,000 and 8 MiB. "
                                    "Each item is judged on its own: one that does not fit this schema, or names an "
                                    "unknown unit, is refused in the answer (by index, with the reason) and kept in "
                                    "dead letters; the others are stored.")


async def _batch(request: Request, pool: ConnectionPool, source: str, target: str,
                 apply: Callable[[Conn, list[Any]], FeedResult]) -> dict[str, Any]:
    request.state.audit_target = target
    items = await read_batch(request, pool, source)

    def run() -> FeedResult:
        with transaction(pool) as conn:
            return apply(conn, items)

    result = await anyio.to_thread.run_sync(run)
    request.state.audit_detail = {"accepted": result.accepted, "duplicates": result.duplicates,
                                  "rejected": len(result.rejected)}
    return result.as_json()


@router.post("/petitions/events", openapi_extra=_body(petition_schema.batch_schema()),
             responses=errors(413))
async def post_petitions(request: Request, pool: PoolDep, settings: SettingsDep, _: Integrators) -> dict[str, Any]:
    """Petition events (received, handled, rated): see ``ops_center.petitions.models``."""
    cal = calendar_for(settings)
    return await _batch(request, pool, PETITIONS_SOURCE, "petitions:events",
                        lambda conn, items: petitions.ingest_events(conn, items, PETITIONS_SOURCE, calendar=cal))


@router.post("/egov/documents", openapi_extra=_body(readiness_schema.batch_schema("documents")),
             responses=errors(413))
async def post_documents(request: Request, pool: PoolDep, _: Integrators) -> dict[str, Any]:
    """Documents exchanged electronically between units: see ``ops_center.readiness.exchange``."""
    feed = exchange.DOCUMENTS
    return await _batch(request, pool, feed.http_source, "egov:documents",
                        lambda conn, items: exchange.ingest(conn, feed, items, feed.http_source))


@router.post("/egov/meetings", openapi_extra=_body(readiness_schema.batch_schema("meetings")),
             responses=errors(413))
async def post_meetings(request: Request, pool: PoolDep, _: Integrators) -> dict[str, Any]:
    """Online meeting sessions of units: see ``ops_center.readiness.exchange``."""
    feed = exchange.MEETINGS
    return await _batch(request, pool, feed.http_source, "egov:meetings",
                        lambda conn, items: exchange.ingest(conn, feed, items, feed.http_source))


@router.post("/readiness/facts", openapi_extra=_body(readiness_schema.batch_schema("facts")),
             responses=errors(413))
async def post_facts(request: Request, pool: PoolDep, _: Integrators) -> dict[str, Any]:
    """Dated unit facts (ISO 9001, meeting room, document axis, national portal, public administration center,
    electronic certified copies, existence): ``{"unit", "fact", "since", "value"}``."""
    return await _batch(request, pool, facts.HTTP_SOURCE, "readiness:facts",
                        lambda conn, items: facts.ingest_facts(conn, items, facts.HTTP_SOURCE))


@router.get("/readiness/facts")
def list_facts(conn: ConnDep, _: Staff, unit: Annotated[str | None, Query(pattern=UNIT_CODE)] = None,
               cursor: Annotated[str | None, Query(max_length=1024)] = None,
               limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT) -> dict[str, Any]:
    found = (decode_cursor(cursor) or {}).get("k")
    key: list[Any] = found if isinstance(found, list) and len(found) == 3 else ["", "", ""]
    rows = facts.list_facts(conn, unit, (str(key[0]), str(key[1]), str(key[2])), limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if rows else None
    return {"items": rows, "next_cursor": encode_cursor({"k": [last["unit"], last["fact"], last["since"]]})
            if more and last else None}


@router.get("/readiness")
def get_readiness(conn: ReadConn, _: Staff, on: Annotated[IsoDate2000To2100 | None, Query(alias="date")] = None,
                  start: Annotated[IsoDate | None, Query(alias="from")] = None) -> dict[str, Any]:
    """The report's "x of y" figures on a date (default today): facts per level (and communes per district),
    procedures online and by post; documents, meetings and online dossiers from ``from`` (default 1 January) to
    that date, and the same window a year earlier."""
    day = on or local_date(datetime.now(UTC))
    if day.year < 2000 or day.year > 2100:
        raise HTTPException(422, f"date: {day} is outside 2000–2100")
    try:
        return report.readiness(conn, day, start)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc


class ReplayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    feed: Literal["petitions", "documents", "meetings", "facts"]
    # ids up to 2**53 - 1, as the dossiers' replay: a JSON number above that is a float to many readers (the schema's
    # validator took 9223372036854775999 for at most 2**63 - 1)
    ids: list[Annotated[int, Field(ge=1, le=2**53 - 1), JSON_INT]] | None = Field(default=None,
                                                                                   max_length=refused.REPLAY_MAX)
    limit: Annotated[int, Field(ge=1, le=refused.REPLAY_MAX), JSON_INT] = 1000


@router.post("/egov/dead-letters/replay")
def replay(body: ReplayIn, conn: ConnDep, settings: SettingsDep, request: Request, _: AdminOnly) -> dict[str, Any]:
    """Re-apply a feed's refused items after their cause was fixed (a unit added, a conflict straightened out at
    the source): the letters given by id (of that feed), or every one not yet fixed, oldest first. Each letter
    records the outcome; a replay writes no new dead letter."""
    request.state.audit_target = f"{body.feed}:dead-letters"
    r = feed_replay.replay(conn, body.feed, ids=body.ids, limit=body.limit, calendar=calendar_for(settings))
    request.state.audit_detail = {"replayed": r.replayed, "ok": r.ok, "failed": r.failed}
    return {"feed": body.feed, "replayed": r.replayed, "ok": r.ok, "failed": r.failed,
            "items": [{"id": i, "ok": ok, "result": res} for i, ok, res in r.results]}


UnitCode = Annotated[str, Path(pattern=UNIT_CODE, max_length=64)]


@router.post("/egov/units/{code}/mqtt-credentials")
def unit_credentials(code: UnitCode, pool: PoolDep, settings: SettingsDep, request: Request,
                     _: AdminOnly) -> dict[str, Any]:
    """Issue (or replace) the MQTT account of a unit's e-government system: username ``unit.{code}``, allowed to
    publish only ``ops/v1/egov/{code}/{dossiers,documents,meetings,petitions}``. The secret is shown once; it takes
    effect when the broker has reloaded its files."""
    request.state.audit_target = f"unit:{code}:mqtt"
    with transaction(pool) as conn:
        if not device_lookups.unit_exists(conn, code):
            raise HTTPException(404, f"code: {code!r} is not a known unit")
        creds = credentials.rotate(conn, "unit", credentials.UNIT_PREFIX + code, settings, enabled=True)
    with pool.connection() as conn:
        synced = credentials.sync_broker(settings, conn)
    return {"username": creds.username, "password": creds.password, "publish": list(creds.publish),
            "subscribe": list(creds.subscribe), "broker_synced": synced}


@router.delete("/egov/units/{code}/mqtt-credentials", status_code=204)
def revoke_unit_credentials(code: UnitCode, pool: PoolDep, settings: SettingsDep, request: Request,
                            _: AdminOnly) -> Response:
    """Remove the unit's MQTT account (its system can no longer connect once the broker has reloaded)."""
    request.state.audit_target = f"unit:{code}:mqtt"
    with transaction(pool) as conn:
        if not credentials.remove(conn, credentials.UNIT_PREFIX + code):
            raise HTTPException(404, f"code: unit {code!r} has no MQTT account")
    with pool.connection() as conn:
        credentials.sync_broker(settings, conn)
    return Response(status_code=204)
