"""Login (OAuth2 password flow → short-lived JWT), the caller's identity, users and API keys (admin)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, ConfigDict, Field

from api.deps import AdminOnly, ConnDep, CurrentPrincipal, SettingsDep
from api.openapi import errors
from api.public_limits import client_address
from ops_center.auth import apikeys, users
from ops_center.auth.accounts import AccountRefused, check_key_owner, check_user
from ops_center.auth.passwords import WeakPassword
from ops_center.auth.roles import ROLE_PERMISSIONS, Permission, Role
from ops_center.auth.throttle import LoginThrottle, is_known_client, known_client_cookie, known_client_mark
from ops_center.auth.tokens import issue_token
from ops_center.pagination import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, encode_cursor

public = APIRouter(tags=["auth"])
router = APIRouter(tags=["auth"])


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    role: Role


@public.post("/auth/token", response_model=TokenOut, responses=errors(401, 429))
def login(request: Request, response: Response, form: Annotated[OAuth2PasswordRequestForm, Depends()],
          conn: ConnDep, settings: SettingsDep) -> TokenOut:
    """Throttled (``ops_center.auth.throttle``): failed attempts are counted per address, per account and address,
    and per account for browsers that never signed in to it; a spent budget answers 429 with ``Retry-After``."""
    request.state.audit_actor = form.username[:64]
    request.state.audit_target = "session"
    secret = settings.jwt_secret.get_secret_value()
    throttle: LoginThrottle = request.app.state.login_throttle
    address = client_address(request)
    cookie = known_client_cookie(form.username)
    known = is_known_client(secret, form.username, request.cookies.get(cookie))
    wait = throttle.retry_after(form.username, address, known)
    if wait is not None:
        raise HTTPException(429, f"too many failed sign-ins: try again in {wait} s", headers={"Retry-After": str(wait)})
    user = users.authenticate(conn, form.username, form.password)
    if user is None:
        throttle.failed(form.username, address, known)
        if users.get_user(conn, form.username) is None:  # maybe a password typed into the name field: not kept
            request.state.audit_actor = "unknown-user"
        raise HTTPException(401, "username or password incorrect", headers={"WWW-Authenticate": "Bearer"})
    throttle.succeeded(user.username, address)
    response.set_cookie(cookie, known_client_mark(secret, user.username, settings.login_device_cookie_days),
                        max_age=settings.login_device_cookie_days * 86400, path="/auth/token", httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")
    token, ttl = issue_token(secret, user.username, user.role.value, settings.jwt_ttl_s, user_id=user.id)
    return TokenOut(access_token=token, expires_in=ttl, role=user.role)


@router.post("/auth/refresh", response_model=TokenOut, responses=errors(403))
def refresh(principal: CurrentPrincipal, conn: ConnDep, settings: SettingsDep, request: Request) -> TokenOut:
    """A fresh token for a signed-in user whose account is still enabled (screens renew every few minutes).
    The account is read afresh here (not from the per-request cache): a refresh never outlives a change."""
    request.state.audit_target = "session"
    if principal.kind != "user" or principal.user_id is None:
        raise HTTPException(403, "API keys do not expire and need no refresh")
    try:
        user = check_user(users.get_user_by_id(conn, principal.user_id), principal.name, principal.user_id)
    except AccountRefused as exc:
        raise HTTPException(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from exc
    token, ttl = issue_token(settings.jwt_secret.get_secret_value(), user.username, user.role.value,
                             settings.jwt_ttl_s, user_id=user.id)
    return TokenOut(access_token=token, expires_in=ttl, role=user.role)


class MeOut(BaseModel):
    name: str
    role: Role
    kind: str
    permissions: list[Permission]  # rights finer than the role (screens show only what the person may do)


@router.get("/auth/me", response_model=MeOut)
def me(principal: CurrentPrincipal) -> MeOut:
    return MeOut(name=principal.name, role=principal.role, kind=principal.kind,
                 permissions=sorted(ROLE_PERMISSIONS.get(principal.role, frozenset())))


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is refused, not dropped
    username: str = Field(pattern=r"^[A-Za-z0-9_.@-]{1,64}$")
    password: str = Field(min_length=10, max_length=256)
    role: Role
    full_name: str = Field(default="", max_length=200)


class UserOut(BaseModel):
    id: int
    username: str
    full_name: str
    role: Role
    disabled: bool


class UserPage(BaseModel):
    items: list[UserOut]
    next_cursor: str | None


@router.post("/users", response_model=UserOut, status_code=201, responses=errors(409))
def create_user(body: UserIn, conn: ConnDep, request: Request, _: AdminOnly) -> UserOut:
    request.state.audit_target = f"user:{body.username}"
    try:
        user = users.create_user(conn, body.username, body.password, body.role, body.full_name)
    except users.UserExists as exc:
        raise HTTPException(409, str(exc)) from exc
    except WeakPassword as exc:
        raise HTTPException(422, str(exc)) from exc
    return UserOut(id=user.id, username=user.username, full_name=user.full_name, role=user.role,
                   disabled=user.disabled)


@router.get("/users", response_model=UserPage)
def list_users(conn: ConnDep, _: AdminOnly, cursor: str | None = None,
               limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT) -> UserPage:
    after = decode_cursor(cursor)
    rows = users.list_page(conn, int(after["id"]) if after else 0, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return UserPage(items=[UserOut(id=u.id, username=u.username, full_name=u.full_name, role=u.role,
                                   disabled=u.disabled) for u in rows],
                    next_cursor=encode_cursor({"id": rows[-1].id}) if more and rows else None)


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    role: Role = Role.integration


class ApiKeyOut(BaseModel):
    id: int
    name: str
    role: Role
    key: str | None = None
    created_at: datetime | None = None


@router.post("/api-keys", response_model=ApiKeyOut, status_code=201)
def create_key(body: ApiKeyIn, conn: ConnDep, principal: AdminOnly, request: Request) -> ApiKeyOut:
    """The key is in this answer only; it is stored hashed. It belongs to the calling admin (or, when an API key
    mints it, to that key's owner) and works only while that owner is an enabled admin."""
    owner_row = users.get_user_by_id(conn, principal.user_id, lock=True) if principal.user_id is not None else None
    try:
        owner = check_key_owner(owner_row, body.name)
    except AccountRefused as exc:
        raise HTTPException(401, f"cannot mint: {exc}", headers={"WWW-Authenticate": "Bearer"}) from exc
    key, secret = apikeys.create_api_key(conn, body.name, body.role, owner)
    request.state.audit_target = f"api_key:{key.id}"
    return ApiKeyOut(id=key.id, name=key.name, role=key.role, key=secret)


@router.delete("/api-keys/{key_id}", status_code=204)
def revoke_key(key_id: Annotated[int, Path(ge=1, le=2**53 - 1)], conn: ConnDep, _: AdminOnly, request: Request) -> None:
    request.state.audit_target = f"api_key:{key_id}"
    if not apikeys.revoke_api_key(conn, key_id):
        raise HTTPException(404, f"key_id: no active API key {key_id}")
