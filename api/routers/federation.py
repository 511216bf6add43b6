"""Federation over HTTP.

National instance (``PUBLIC``: its own auth, a province's credential): ``POST /federation/v1/snapshots`` and
``POST /federation/v1/heartbeat``. Answers: 201 ``stored``, 200 ``duplicate`` or ``stale``; refusals are
problem+json naming the field and value, and each refusal from an authenticated province is kept as a dead letter.

Provincial instance (admin): ``GET /federation/outbox``, ``POST /federation/outbox/replay``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from psycopg_pool import ConnectionPool
from pydantic import BaseModel, ConfigDict, Field

from api.deps import AdminOnly, ConnDep, PoolDep, SettingsDep
from api.json_types import JSON_INT
from api.national.deps import FederationDep, ProvinceDep, ProvinceModeDep
from api.openapi import errors
from api.problems import PROBLEM
from ops_center.db import transaction
from ops_center.federation import outbox
from ops_center.federation.config import FederationConfig
from ops_center.federation.national import receive
from ops_center.federation.national.credentials import ProvinceCredential

router = APIRouter(prefix="/federation/v1", tags=["federation"])
admin_router = APIRouter(prefix="/federation", tags=["federation"])
ReceiveKind = Literal["snapshot", "heartbeat"]


async def _body(request: Request, cap: int) -> tuple[bytes, int]:
    """The body read up to one byte past ``cap`` (enough to know it is too large and to keep its head), and its
    size (the declared one when that alone is too large: then nothing is read)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        return b"", int(declared)
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > cap:
            break
    return body, len(body)


def _receive(pool: ConnectionPool, cfg: FederationConfig, tz: str, who: ProvinceCredential, raw: bytes,
             size: int, what: ReceiveKind) -> tuple[int, dict[str, Any]]:
    doc: dict[str, Any] | None = None
    try:
        if size > cfg.max_body_bytes:
            raise receive.Refused(413, "too_large", f"body: {size} bytes or more; at most {cfg.max_body_bytes}",
                                  "body", size)
        doc = receive.parse_body(raw, cfg.max_body_bytes)
        with transaction(pool) as conn:
            now = datetime.now(UTC)
            if what == "heartbeat":
                return 200, receive.heartbeat(conn, who.code, doc, now)
            accepted = receive.accept(conn, who.code, doc, now, max_skew_s=cfg.max_clock_skew_s, tz=tz)
            return (201 if accepted.outcome == "stored" else 200), accepted.as_json()
    except receive.Refused as refused:
        with transaction(pool) as conn:
            claimed = doc.get("province") if isinstance(doc, dict) else None
            letter = receive.dead_letter(conn, who.code, claimed, raw, refused, size)
        body = {"type": f"urn:ops-center:federation:{refused.reason}", "title": refused.reason.replace("_", " "),
                "status": refused.status, "detail": refused.detail, "reason": refused.reason,
                "field": refused.field, "value": refused.value, "dead_letter_id": letter}
        return refused.status, body


async def _handle(request: Request, pool: ConnectionPool, cfg: FederationConfig, tz: str, who: ProvinceCredential,
                  what: ReceiveKind) -> JSONResponse:
    request.state.audit_target = f"federation:{what}:{who.code}"
    raw, size = await _body(request, cfg.max_body_bytes)
    status, body = await anyio.to_thread.run_sync(partial(_receive, pool, cfg, tz, who, raw, size, what))
    return JSONResponse(body, status_code=status, media_type=PROBLEM if status >= 400 else "application/json")


@router.post("/snapshots", status_code=201, responses={200: {"description": "duplicate or stale (not stored)"},
                                                       **errors(400, 403, 409, 413, 422)})
async def post_snapshot(request: Request, pool: PoolDep, settings: SettingsDep, cfg: FederationDep,
                        who: ProvinceDep) -> JSONResponse:
    """One snapshot from a province (the format: docs/federation.md, ``ops-center federation schema``)."""
    return await _handle(request, pool, cfg, settings.timezone, who, "snapshot")


@router.post("/heartbeat", responses=errors(400, 403, 413, 422))
async def post_heartbeat(request: Request, pool: PoolDep, settings: SettingsDep, cfg: FederationDep,
                         who: ProvinceDep) -> JSONResponse:
    """A province's heartbeat: its schedule, clock and outbox backlog; it keeps the province fresh."""
    return await _handle(request, pool, cfg, settings.timezone, who, "heartbeat")


class ReplayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # outbox ids (a bigint column: an id past 2**63 reached the database as an error, a 500)
    ids: list[Annotated[int, Field(ge=1, le=2**53 - 1), JSON_INT]] | None = Field(default=None, max_length=10000)


@admin_router.get("/outbox")
def list_outbox(conn: ConnDep, _: AdminOnly, __: ProvinceModeDep,
                status: Annotated[Literal["pending", "sending", "delivered", "failed", "superseded"] | None,
                                  Query()] = None,
                before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
                limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict[str, Any]:
    """This province's snapshots and their delivery state, newest first (``before``: the previous page's
    ``next``)."""
    rows = outbox.list_rows(conn, status_filter=status, before_id=before, limit=limit)
    items = [{k: v for k, v in r.items() if k != "envelope"} | {"province": r["envelope"].get("province")}
             for r in rows]
    return {"items": items, "summary": outbox.status(conn),
            "next": rows[-1]["id"] if len(rows) == limit else None}


@admin_router.post("/outbox/replay")
def replay_outbox(conn: ConnDep, _: AdminOnly, __: ProvinceModeDep, body: ReplayIn) -> dict[str, int]:
    """Queue failed snapshots again (all, or ``ids``) once the cause is fixed."""
    return {"queued": outbox.replay_failed(conn, body.ids)}
