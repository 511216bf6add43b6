"""Reading the body of an e-government feed's batch route (dossier and petition events, documents, meeting
sessions, unit facts): a JSON array or ``{"events": [...]}``, at most 8 MiB and ``MAX_BATCH`` items. A body that is
not JSON (400) or not a batch (422) is dead-lettered whole under the route's source; an oversized one is 413."""

from __future__ import annotations

import json
from typing import Any, Final

import anyio
import orjson
from fastapi import HTTPException, Request
from psycopg_pool import ConnectionPool

from ops_center.db import transaction
from ops_center.dossiers import refused
from ops_center.dossiers.models import shown
from ops_center.feeds import MAX_BATCH

MAX_BODY: Final = 8 * 1024 * 1024


def _dead_body(pool: ConnectionPool, source: str, body: bytes, reason: str, detail: str) -> None:
    with transaction(pool) as conn:
        refused.record_whole(conn, source, body, reason, detail, "body")


def parse_json(body: bytes) -> Any:
    """JSON; what only the standard library reads (a lone surrogate escape, NaN) is parsed so that the item holding
    it is refused on its own instead of the whole batch."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        try:
            return json.loads(body)
        except RecursionError:
            raise ValueError(f"nested too deep ({exc})") from None
        except ValueError:
            raise ValueError(str(exc)) from None


async def read_batch(request: Request, pool: ConnectionPool, source: str) -> list[Any]:
    """The items of the request's batch, or ``HTTPException`` 400/413/422."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise HTTPException(413, f"body: {declared} bytes; at most {MAX_BODY}")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise HTTPException(413, f"body: more than {MAX_BODY} bytes")
    try:
        doc = parse_json(body)
    except ValueError as exc:
        detail = f"body: not valid JSON ({exc})"
        await anyio.to_thread.run_sync(_dead_body, pool, source, body, "parse_error", detail)
        raise HTTPException(400, detail) from exc
    items = doc.get("events") if isinstance(doc, dict) and set(doc) == {"events"} else doc
    if not isinstance(items, list):
        detail = f"body: expected a JSON array or {{\"events\": [...]}}, got {shown(doc)}"
        await anyio.to_thread.run_sync(_dead_body, pool, source, body, "bad_shape", detail)
        raise HTTPException(422, detail)
    if len(items) > MAX_BATCH:
        raise HTTPException(413, f"events: {len(items)} items; at most {MAX_BATCH} per batch")
    return items
