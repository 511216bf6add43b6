"""Request dependencies (``Annotated`` aliases, as in the FastAPI full-stack template): settings, database,
the authenticated principal and role checks.

Every router is mounted behind ``authenticated``; a route narrows it with ``require(Role.admin, ...)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from psycopg_pool import ConnectionPool

from api.openapi import declares
from api.replica_reads import get_read_conn
from ops_center.auth import users
from ops_center.auth.accounts import AccountCache, AccountRefused, check_key_owner, check_user
from ops_center.auth.apikeys import verify_api_key
from ops_center.auth.roles import Role
from ops_center.auth.tokens import InvalidToken, decode_token
from ops_center.db import Conn
from ops_center.readings import ReadingsStore
from ops_center.settings import Settings


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user (by JWT) or an integration (by API key), with the role its account has now.

    ``user_id`` is the user's id, or for an API key its owner's id (whose power the key borrows)."""

    name: str
    role: Role
    kind: str  # "user" | "api_key"
    user_id: int | None = None


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


@declares(503)
def get_pool(request: Request) -> ConnectionPool:
    pool: ConnectionPool = request.app.state.pool
    return pool


@declares(503)
def get_conn(request: Request) -> Iterator[Conn]:
    """A pooled connection in one transaction, committed before the response is sent."""
    pool: ConnectionPool = request.app.state.pool
    with pool.connection() as conn, conn.transaction():
        yield conn


def get_store(request: Request) -> ReadingsStore:
    store: ReadingsStore = request.app.state.readings
    return store


SettingsDep = Annotated[Settings, Depends(get_settings)]
PoolDep = Annotated[ConnectionPool, Depends(get_pool)]
ConnDep = Annotated[Conn, Depends(get_conn, scope="function")]
# the read-heavy routes' connection: a read-only transaction on a fit streaming replica, else on the primary; their
# router takes ``route_class=ReadRoute`` (api/replica_reads.py, docs/scaling.md)
ReadConn = Annotated[Conn, Depends(get_read_conn, scope="function")]
StoreDep = Annotated[ReadingsStore, Depends(get_store)]

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)
api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False)

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def current_user(pool: ConnectionPool, cache: AccountCache | None, username: str) -> users.User | None:
    """The account's current row, through the per-process cache when there is one."""
    def load(name: str) -> users.User | None:
        with pool.connection() as conn:
            return users.get_user(conn, name)

    return cache.get(username, load) if cache is not None else load(username)


def authenticate_token(settings: Settings, pool: ConnectionPool, token: str | None,
                       api_key: str | None, cache: AccountCache | None = None) -> Principal:
    """The principal for a bearer token or an API key, with its account's current role; 401 otherwise (also when
    the account was disabled or removed since the token was issued). Used by HTTP routes."""
    if token:
        try:
            claims = decode_token(settings.jwt_secret.get_secret_value(), token)
            user = check_user(current_user(pool, cache, claims.subject), claims.subject, claims.user_id)
        except (InvalidToken, AccountRefused) as exc:
            raise HTTPException(401, str(exc), headers=_CHALLENGE) from exc
        return Principal(user.username, user.role, "user", user.id)
    if api_key:
        return principal_for_key(pool, api_key)
    raise HTTPException(401, "not authenticated: send a bearer token or an X-API-Key header", headers=_CHALLENGE)


def principal_for_key(pool: ConnectionPool, api_key: str) -> Principal:
    """The principal of an API key whose owner may still issue it; 401 otherwise. Never cached: a key is looked
    up (and its ``last_used_at`` stamped) on every request anyway."""
    with pool.connection() as conn:
        key = verify_api_key(conn, api_key)
    if key is None:
        raise HTTPException(401, "API key invalid or revoked", headers=_CHALLENGE)
    try:
        owner = check_key_owner(key.owner, key.name)
    except AccountRefused as exc:
        raise HTTPException(401, str(exc), headers=_CHALLENGE) from exc
    return Principal(f"key:{key.name}", key.role, "api_key", owner.id)


@declares(401)
def authenticated(
    request: Request,
    settings: SettingsDep,
    pool: PoolDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
    api_key: Annotated[str | None, Depends(api_key_scheme)],
) -> Principal:
    cache: AccountCache | None = getattr(request.app.state, "accounts", None)
    principal = authenticate_token(settings, pool, token, api_key, cache)
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(authenticated)]


def require(*roles: Role) -> Callable[[Principal], Principal]:
    """A dependency that lets only ``roles`` through (403 otherwise)."""
    allowed = frozenset(roles)

    @declares(403)
    def check(principal: CurrentPrincipal) -> Principal:
        if principal.role not in allowed:
            names = ", ".join(sorted(r.value for r in allowed))
            raise HTTPException(403, f"role {principal.role.value!r} may not do this; needs one of: {names}")
        return principal

    return check


AdminOnly = Annotated[Principal, Depends(require(Role.admin))]
Staff = Annotated[Principal, Depends(require(Role.admin, Role.operator, Role.leader))]
Operators = Annotated[Principal, Depends(require(Role.admin, Role.operator))]
