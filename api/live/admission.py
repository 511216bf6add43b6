"""Who may open a ``/ws/live`` socket: the token comes in the first message (never in the URL, which access logs
and proxies record), the account must exist, be enabled and have a staff role *now*, and a slot must be free.

Slots (``api/live/config.py``): at most ``max_clients`` sockets per process, at most ``max_per_principal`` of one
account, and the last ``reserved_for_operators`` of them only for admins and operators, so that no account and no
group of leaders' screens can lock the operators out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass

import orjson
from fastapi import WebSocket

from api.live.config import LiveSettings
from api.live.feed import CLOSE_FORBIDDEN, CLOSE_UNAUTHORIZED, Client
from api.live.principals import PrincipalWatcher
from ops_center.auth.accounts import AccountRefused, check_user
from ops_center.auth.roles import OPERATORS, STAFF, Role
from ops_center.auth.tokens import InvalidToken, TokenClaims, decode_token

URL_TOKEN_REFUSED = "a token in the URL is refused (it ends up in logs): send {\"type\": \"auth\", \"token\": …} " \
                    "as the first message"


class Refused(Exception):
    """The socket may not be admitted: close it with ``code`` and the message as the reason."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code


@dataclass(frozen=True)
class LivePrincipal:
    name: str
    user_id: int
    role: Role
    expires_at: int


def auth_token(text: str | None) -> str:
    """The token of an ``{"type": "auth", "token": "…"}`` message; ``Refused`` (4401) naming what is wrong."""
    try:
        data = orjson.loads(text) if text is not None else None
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict) or data.get("type") != "auth":
        raise Refused(CLOSE_UNAUTHORIZED, "the first message must be {\"type\": \"auth\", \"token\": …}")
    token = data.get("token")
    if not isinstance(token, str) or not token:
        raise Refused(CLOSE_UNAUTHORIZED, "auth.token: must be a non-empty string")
    return token


def decode(secret: str, token: str) -> TokenClaims:
    try:
        return decode_token(secret, token)
    except InvalidToken as exc:
        raise Refused(CLOSE_UNAUTHORIZED, str(exc)) from exc


async def authenticate(ws: WebSocket, secret: str, watcher: PrincipalWatcher,
                       config: LiveSettings) -> LivePrincipal:
    """Read the first message and check the token and the account as it is now; ``Refused`` otherwise."""
    if "token" in ws.query_params:
        raise Refused(CLOSE_UNAUTHORIZED, URL_TOKEN_REFUSED)
    try:
        message = await asyncio.wait_for(ws.receive(), config.auth_timeout_s)
    except TimeoutError as exc:
        raise Refused(CLOSE_UNAUTHORIZED, f"no auth message within {config.auth_timeout_s:g} s") from exc
    if message["type"] == "websocket.disconnect":
        raise Refused(1000, "client went away")
    text = message.get("text")
    if text is not None and len(text) > config.max_message_bytes:
        raise Refused(CLOSE_UNAUTHORIZED, "auth message too big")
    claims = decode(secret, auth_token(text))
    try:
        user = check_user(await watcher.account(claims.subject), claims.subject, claims.user_id)
    except AccountRefused as exc:
        raise Refused(CLOSE_UNAUTHORIZED, str(exc)) from exc
    if user.role not in STAFF:
        raise Refused(CLOSE_FORBIDDEN, f"role {user.role.value!r} may not watch the live feed")
    return LivePrincipal(user.username, user.id, user.role, claims.expires_at)


def renew(client: Client, secret: str, token: str) -> int:
    """A newer token of the same account for an open socket (the screen renews its token every few minutes):
    moves the socket's expiry; ``Refused`` when the token is bad or names someone else."""
    claims = decode(secret, token)
    if claims.subject != client.principal or (claims.user_id is not None and claims.user_id != client.user_id):
        raise Refused(CLOSE_UNAUTHORIZED, "auth.token: belongs to another account than this socket's")
    client.expires_at = max(client.expires_at, claims.expires_at)
    return claims.expires_at


def slot_refusal(clients: Iterable[Client], config: LiveSettings, principal: str, role: Role) -> str | None:
    """Why a new socket of ``principal`` cannot have a slot now (None: it can)."""
    total = mine = 0
    for c in clients:
        total += 1
        mine += c.principal == principal
    if total >= config.max_clients:
        return f"server busy: {total} screens connected"
    if mine >= config.max_per_principal:
        return f"{principal!r} already has {mine} live screens open (limit {config.max_per_principal})"
    if role not in OPERATORS and total >= config.max_clients - config.reserved_for_operators:
        return f"server busy: the last {config.reserved_for_operators} screens are kept for operators"
    return None
