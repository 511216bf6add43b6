"""``/ws/live``: the WebSocket feed of the operator screens.

Protocol (JSON text frames):

- connect to ``/ws/live?token=JWT`` (a staff role: admin, operator, leader). A bad or expired token closes with
  4401, another role with 4403, a full server with 1013. The socket also closes with 4401 when the token expires.
- server → ``{"type": "hello", "last_event_id": N, "topics": [...], "close_codes": {...}}``
- client → ``{"type": "subscribe", "topics": ["alert", "incident", "device_status", "telemetry", "dossier",
  "system"], "devices": ["gauge-1"], "wards": ["32014"], "last_event_id": 123}`` (plural aliases such as
  ``alerts`` are accepted; ``devices``/``wards`` narrow telemetry and device status; ``last_event_id`` asks for
  what was missed since) → ``{"type": "subscribed", ...}``; then, when asked, the missed events and
  ``{"type": "caught_up", "after": 123, "count": 7}``, or ``{"type": "reload", "reason": "..."}`` when too much
  was missed (fetch the lists again and subscribe without ``last_event_id``).
- server → ``{"type": "events", "items": [{"id", "at", "topic", "subject", "ward_code", "payload"}, ...]}``;
  telemetry items carry ``payload = {"device_id", "values": {metric: [epoch_s, value]}}``, at most one per device
  per 250 ms. Delivery is at least once: dedupe by id.
- client → ``{"type": "ping", "t": any}`` → ``{"type": "pong", "t": any}``.
- a bad client message gets ``{"type": "error", "detail": "field: reason (got value)"}``; too many close with
  1008, an oversized one with 1009. A client that cannot keep up is closed with 4408.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Request, WebSocket
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from api.deps import AdminOnly
from api.live.feed import (
    CLOSE_FORBIDDEN,
    CLOSE_GOING_AWAY,
    CLOSE_POLICY,
    CLOSE_SLOW,
    CLOSE_TOO_BIG,
    CLOSE_TRY_AGAIN,
    CLOSE_UNAUTHORIZED,
    Client,
    Hub,
    Subscription,
)
from ops_center.auth.roles import STAFF, Role
from ops_center.auth.tokens import InvalidToken, decode_token
from ops_center.events import TOPICS

router = APIRouter(tags=["live"])
stats_router = APIRouter(tags=["live"])

ALIASES = {"alerts": "alert", "incidents": "incident", "dossiers": "dossier", "devices": "device_status",
           "device-status": "device_status", "warnings": "warning"}
CLOSE_CODES = {"unauthorized": CLOSE_UNAUTHORIZED, "forbidden": CLOSE_FORBIDDEN, "slow": CLOSE_SLOW,
               "policy": CLOSE_POLICY, "too_big": CLOSE_TOO_BIG, "try_again": CLOSE_TRY_AGAIN,
               "going_away": CLOSE_GOING_AWAY}
_ids = itertools.count(1)

DeviceId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
WardCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,32}$")]


class SubscribeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["subscribe"]
    topics: list[str] = Field(min_length=1, max_length=len(TOPICS) + len(ALIASES))
    devices: list[DeviceId] = Field(default_factory=list, max_length=1000)
    wards: list[WardCode] = Field(default_factory=list, max_length=500)
    last_event_id: int | None = Field(default=None, ge=0, le=2**63 - 1, strict=True)

    @field_validator("topics", mode="before")
    @classmethod
    def _topics(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        out = []
        for i, t in enumerate(value):
            if not isinstance(t, str) or ALIASES.get(t, t) not in TOPICS:
                shown = t if not isinstance(t, str) or len(t) <= 40 else t[:40] + "…"
                raise ValueError(f"topics[{i}] must be one of {', '.join(TOPICS)}; got {shown!r}")
            out.append(ALIASES.get(t, t))
        return out


class BadMessage(ValueError):
    pass


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:80] + "…"


def _validation_detail(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ())) or "message"
        msg = str(err.get("msg", "")).removeprefix("Value error, ")
        parts.append(f"{where}: {msg} (got {_short(err.get('input'))})")
    return "; ".join(parts)


def handle_message(text: str, client: Client) -> None:
    """Apply one client message; raise ``BadMessage`` naming the field and the value when it is wrong."""
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise BadMessage(f"message: not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise BadMessage(f"message: must be a JSON object, got {type(data).__name__}")
    kind = data.get("type")
    if kind == "ping":
        client.control({"type": "pong", "t": data.get("t") if isinstance(data.get("t"), int | float | str)
                        else None})
        return
    if kind != "subscribe":
        raise BadMessage(f"type: must be 'subscribe' or 'ping', got {_short(kind)}")
    try:
        msg = SubscribeIn.model_validate(data)
    except ValidationError as exc:
        raise BadMessage(_validation_detail(exc)) from exc
    client.sub = Subscription(frozenset(msg.topics), frozenset(msg.devices), frozenset(msg.wards))
    client.control({"type": "subscribed", "topics": sorted(client.sub.topics), "devices": len(msg.devices),
                    "wards": len(msg.wards)})
    if msg.last_event_id is not None:
        client.catchup_from = msg.last_event_id


async def _read(ws: WebSocket, client: Client, hub: Hub) -> None:
    errors = 0
    limit = hub.config.max_message_bytes
    while not client.closed.is_set():
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            client.gone = True
            client.close(int(message.get("code") or 1000), "client went away")
            return
        text = message.get("text")
        try:
            if text is None:
                raise BadMessage("message: binary frames are not accepted; send JSON text")
            size = len(text.encode())
            if size > limit:
                client.close(CLOSE_TOO_BIG, f"message too big: {size} bytes, limit {limit}")
                return
            handle_message(text, client)
        except BadMessage as exc:
            errors += 1
            client.control({"type": "error", "detail": str(exc)})
            if errors >= hub.config.max_errors:
                client.close(CLOSE_POLICY, f"too many bad messages ({errors})")
                return


@router.websocket("/ws/live")
async def live(ws: WebSocket) -> None:
    hub: Hub | None = getattr(ws.app.state, "live", None)
    secret = ws.app.state.settings.jwt_secret.get_secret_value()
    await ws.accept()  # accept first: a close code before the handshake would reach the browser as a plain 403
    try:
        claims = decode_token(secret, ws.query_params.get("token") or "")
    except InvalidToken as exc:
        await ws.close(CLOSE_UNAUTHORIZED, str(exc)[:120])
        return
    if claims.role not in {r.value for r in STAFF}:
        await ws.close(CLOSE_FORBIDDEN, f"role {claims.role!r} may not watch the live feed")
        return
    if hub is None or not hub.running:
        await ws.close(CLOSE_TRY_AGAIN, "live feed not running")
        return
    if len(hub.clients) >= hub.config.max_clients:
        await ws.close(CLOSE_TRY_AGAIN, f"server busy: {len(hub.clients)} screens connected")
        return

    client = Client(f"{claims.subject}#{next(_ids)}", ws.send_text, hub.config)
    hub.add(client)
    client.control({"type": "hello", "user": claims.subject, "role": Role(claims.role).value,
                    "last_event_id": hub.last_id, "topics": list(TOPICS), "close_codes": CLOSE_CODES,
                    "coalesce_ms": round(hub.config.coalesce_s * 1000), "token_expires_at": claims.expires_at})
    writer = asyncio.create_task(client.run_writer(hub))
    reader = asyncio.create_task(_read(ws, client, hub))
    closed = asyncio.create_task(client.closed.wait())
    try:
        ttl = max(claims.expires_at - time.time(), 0.0)
        done, _ = await asyncio.wait({writer, reader, closed}, timeout=ttl,
                                     return_when=asyncio.FIRST_COMPLETED)
        if not done:
            client.close(CLOSE_UNAUTHORIZED, "token expired")
        elif not client.closed.is_set():  # the writer or reader failed (connection lost mid-send)
            client.close(1011, "feed error")
    finally:
        hub.remove(client)
        for task in (writer, reader, closed):
            task.cancel()
        for task in (writer, reader, closed):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    if not client.gone:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(client.close_code or 1000, client.close_reason), 5.0)


@stats_router.get("/live/stats")
def live_stats(request: Request, _: AdminOnly) -> dict[str, Any]:
    """The hub's counters (connected screens, events, drops) for administrators."""
    hub: Hub | None = getattr(request.app.state, "live", None)
    return hub.snapshot() if hub is not None else {"running": False}
