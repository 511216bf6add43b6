"""``/ws/live``: the WebSocket feed of the operator screens.

Protocol (JSON text frames):

- connect to ``/ws/live`` (no token in the URL: URLs end up in access logs) and send, within ``auth_timeout_s``
  (10 s), ``{"type": "auth", "token": JWT}`` as the first message. The account must exist, be enabled and have a
  staff role (admin, operator, leader) *now*. A bad or expired token, a disabled or removed account or a token in
  the URL close with 4401, another role with 4403, a full server (or too many sockets of this account, or the slots
  kept for operators) with 1013. The socket also closes with 4401 when its token expires — send a newer token as
  another ``auth`` message to extend it (→ ``{"type": "authenticated", "token_expires_at": …}``) — and within
  seconds when the account is disabled, removed (4401) or moved out of the staff roles (4403).
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
from api.live.admission import Refused, auth_token, authenticate, renew, slot_refusal
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
from api.live.principals import PrincipalWatcher
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


def handle_message(text: str, client: Client, secret: str) -> None:
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
    if kind == "auth":
        try:
            expires_at = renew(client, secret, auth_token(text))
        except Refused as exc:
            raise BadMessage(str(exc)) from exc
        client.control({"type": "authenticated", "token_expires_at": expires_at})
        return
    if kind != "subscribe":
        raise BadMessage(f"type: must be 'subscribe', 'ping' or 'auth', got {_short(kind)}")
    try:
        msg = SubscribeIn.model_validate(data)
    except ValidationError as exc:
        raise BadMessage(_validation_detail(exc)) from exc
    client.sub = Subscription(frozenset(msg.topics), frozenset(msg.devices), frozenset(msg.wards))
    client.control({"type": "subscribed", "topics": sorted(client.sub.topics), "devices": len(msg.devices),
                    "wards": len(msg.wards)})
    if msg.last_event_id is not None:
        client.catchup_from = msg.last_event_id


async def _read(ws: WebSocket, client: Client, hub: Hub, secret: str) -> None:
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
            handle_message(text, client, secret)
        except BadMessage as exc:
            errors += 1
            client.control({"type": "error", "detail": str(exc)})
            if errors >= hub.config.max_errors:
                client.close(CLOSE_POLICY, f"too many bad messages ({errors})")
                return


async def _expire(client: Client) -> None:
    """Close the socket with 4401 when its token expires (an ``auth`` message with a newer token moves that)."""
    while not client.closed.is_set():
        left = client.expires_at - time.time()
        if left <= 0:
            client.close(CLOSE_UNAUTHORIZED, "token expired")
            return
        await asyncio.sleep(min(left, 30.0))


async def _admit(ws: WebSocket, hub: Hub | None, watcher: PrincipalWatcher | None) -> Client:
    """Authenticate the socket and give it a slot; ``Refused`` otherwise."""
    if hub is None or watcher is None or not hub.running:
        raise Refused(CLOSE_TRY_AGAIN, "live feed not running")
    if hub.pending >= hub.config.max_pending:
        raise Refused(CLOSE_TRY_AGAIN, f"server busy: {hub.pending} sockets authenticating")
    hub.pending += 1
    try:
        who = await authenticate(ws, ws.app.state.settings.jwt_secret.get_secret_value(), watcher, hub.config)
    finally:
        hub.pending -= 1
    refusal = slot_refusal(hub.clients, hub.config, who.name, who.role)
    if refusal is not None:
        raise Refused(CLOSE_TRY_AGAIN, refusal)
    client = Client(f"{who.name}#{next(_ids)}", ws.send_text, hub.config, principal=who.name,
                    user_id=who.user_id, role=who.role, expires_at=who.expires_at)
    hub.add(client)
    client.control({"type": "hello", "user": who.name, "role": who.role.value,
                    "last_event_id": hub.last_id, "topics": list(TOPICS), "close_codes": CLOSE_CODES,
                    "coalesce_ms": round(hub.config.coalesce_s * 1000), "token_expires_at": who.expires_at})
    return client


@router.websocket("/ws/live")
async def live(ws: WebSocket) -> None:
    hub: Hub | None = getattr(ws.app.state, "live", None)
    watcher: PrincipalWatcher | None = getattr(ws.app.state, "principals", None)
    await ws.accept()  # accept first: a close code before the handshake would reach the browser as a plain 403
    try:
        client = await _admit(ws, hub, watcher)
    except Refused as exc:
        if exc.code != 1000:
            with contextlib.suppress(Exception):
                await ws.close(exc.code, str(exc)[:120])
        return
    assert hub is not None
    secret = ws.app.state.settings.jwt_secret.get_secret_value()
    tasks = {asyncio.create_task(client.run_writer(hub)), asyncio.create_task(_read(ws, client, hub, secret)),
             asyncio.create_task(_expire(client)), asyncio.create_task(client.closed.wait())}
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        if not client.closed.is_set():  # the writer or reader failed (connection lost mid-send)
            client.close(1011, "feed error")
    finally:
        hub.remove(client)
        for task in tasks:
            task.cancel()
        for task in tasks:
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
