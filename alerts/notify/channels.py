"""Notification channels: a webhook (our JSON or an Alertmanager-compatible payload) or an SMTP e-mail."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict, Field, StrictBool, TypeAdapter, ValidationError, field_validator

from alerts.errors import RuleError, format_errors
from ops_center.db import Conn, fetch_all, fetch_one

_HEADER_NAME = r"^[A-Za-z0-9-]{1,64}$"
_EMAIL = re.compile(r"^[^@\x00-\x20\x7f<>,;\"']{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,24}$")  # no \s: engines differ
_HOST = r"[^\s/?#\x00\[\]]"  # a host (with user and port) without brackets
_H16 = "[0-9A-Fa-f]{1,4}"
_IPV6 = (rf"(?:(?:{_H16}:){{7}}{_H16}|(?:{_H16}:){{1,7}}:|(?:{_H16}:){{1,6}}:{_H16}|(?:{_H16}:){{1,5}}(?::{_H16}){{1,2}}"
         rf"|(?:{_H16}:){{1,4}}(?::{_H16}){{1,3}}|(?:{_H16}:){{1,3}}(?::{_H16}){{1,4}}|(?:{_H16}:){{1,2}}(?::{_H16}){{1,5}}"
         rf"|{_H16}:(?::{_H16}){{1,6}}|:(?:(?::{_H16}){{1,7}}|:))")
_URL = (rf"^https?://(?:{_HOST}+|(?:[^\s/?#\x00\[\]@]*@)?\[{_IPV6}\](?::[0-9]*)?)"  # brackets: an IPv6 address
        r"(?:[/?#][^\r\n\x00 ]*)?$")
"""An http(s) URL an HTTP client can send to (``urlsplit`` takes it: brackets only around an IPv6 address)."""
_HEADER_VALUE = r"^[^\r\n\x00]*(?![\s\S])"  # the end is (?![\s\S]), not $: Python's $ also matches before a final \n
_HeaderValue = Annotated[str, Field(max_length=1000, json_schema_extra={"pattern": _HEADER_VALUE})]
"""Documented; ``_headers`` refuses a line break or NUL naming the header."""
_RESERVED_HEADERS = {"content-type", "content-length", "idempotency-key", "host", "transfer-encoding"}


class WebhookConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2000, pattern=_URL)
    format: Literal["ops", "alertmanager"] = "ops"
    headers: dict[Annotated[str, Field(pattern=_HEADER_NAME)], _HeaderValue] = Field(
        default_factory=dict, max_length=10, json_schema_extra={"additionalProperties": False})  # other names: 422
    timeout_s: float | None = Field(default=None, gt=0, le=60)

    @field_validator("url")
    @classmethod
    def _http(cls, v: str) -> str:
        if not re.match(_URL, v) or any(c in v for c in "\r\n\x00 "):
            raise ValueError(f"must be an http:// or https:// URL, got {v[:80]!r}")
        try:
            urlsplit(v)
        except ValueError as exc:  # what the pattern lets through and the HTTP client could not send to
            raise ValueError(f"must be an http:// or https:// URL, got {v[:80]!r} ({exc})") from None
        return v

    @field_validator("headers")
    @classmethod
    def _headers(cls, v: dict[str, str]) -> dict[str, str]:
        for name, value in v.items():
            if name.lower() in _RESERVED_HEADERS:
                raise ValueError(f"header {name!r} is set by the notifier")
            if any(c in value for c in "\r\n\x00"):
                raise ValueError(f"header {name!r}: line breaks are not allowed")
        return v


def _address(v: str) -> str:
    if not _EMAIL.match(v):
        raise ValueError(f"not an e-mail address: {v[:80]!r}")
    return v


class EmailConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: list[Annotated[str, Field(max_length=254, json_schema_extra={"pattern": _EMAIL.pattern})]] = Field(
        min_length=1, max_length=20)  # the pattern is documented; _to refuses with a clearer message
    from_addr: str = Field(default="ops-center@localhost", max_length=254)
    host: str = Field(default="127.0.0.1", pattern=r"^[A-Za-z0-9.-]{1,253}$")
    port: int = Field(default=25, ge=1, le=65535)
    starttls: StrictBool = False  # true or false, not 0 or "yes"
    username: str | None = Field(default=None, max_length=200)
    password_env: str | None = Field(default=None, pattern=r"^[A-Z][A-Z0-9_]{0,63}$",
                                     description="name of the environment variable holding the SMTP password")
    subject_prefix: str = Field(default="[ops-center]", max_length=50)

    @field_validator("to")
    @classmethod
    def _to(cls, v: list[str]) -> list[str]:
        return [_address(a) for a in v]

    @field_validator("from_addr")
    @classmethod
    def _from(cls, v: str) -> str:
        return _address(v) if "@" in v and not v.endswith("@localhost") else v


class ChannelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")
    type: Literal["webhook", "email"]
    config: dict[str, Any]
    enabled: StrictBool = True  # true or false, not 0 or "yes"


_WEBHOOK = TypeAdapter(WebhookConfig)
_EMAIL_CFG = TypeAdapter(EmailConfig)


def validate_channel(data: Any, prefix: str = "") -> ChannelIn:
    """A channel with its config validated for its type; ``RuleError`` naming the field otherwise."""
    try:
        ch = ChannelIn.model_validate(data)
    except ValidationError as exc:
        raise RuleError(format_errors(exc, prefix)) from exc
    adapter: TypeAdapter[Any] = _WEBHOOK if ch.type == "webhook" else _EMAIL_CFG
    try:
        ch.config = adapter.validate_python(ch.config).model_dump(mode="json", exclude_none=True)
    except ValidationError as exc:
        raise RuleError(format_errors(exc, f"{prefix}.config" if prefix else "config")) from exc
    return ch


def parse_config(type_: str, config: dict[str, Any]) -> WebhookConfig | EmailConfig:
    return WebhookConfig.model_validate(config) if type_ == "webhook" else EmailConfig.model_validate(config)


_COLS = "id, name, type, config, enabled, created_by, created_at, updated_at"


def list_channels(conn: Conn) -> list[dict[str, Any]]:
    return fetch_all(conn, f"SELECT {_COLS} FROM notify_channels ORDER BY id")


def get_channel(conn: Conn, channel_id: int) -> dict[str, Any] | None:
    return fetch_one(conn, f"SELECT {_COLS} FROM notify_channels WHERE id = %s", (channel_id,))


def id_named(conn: Conn, name: str) -> int | None:
    """The id of the channel named ``name``, None when there is none."""
    row = conn.execute("SELECT id FROM notify_channels WHERE name = %s", (name,)).fetchone()
    return int(row[0]) if row else None


def find_named(conn: Conn, name: str) -> dict[str, Any] | None:
    """``{id, type}`` of the channel named ``name``."""
    return fetch_one(conn, "SELECT id, type FROM notify_channels WHERE name = %s", (name,))


def names(conn: Conn, channel_ids: list[int]) -> dict[int, str]:
    """``{id: name}`` of the channels among ``channel_ids``."""
    return {int(r[0]): str(r[1]) for r in conn.execute("SELECT id, name FROM notify_channels WHERE id = ANY(%s)",
                                                       (channel_ids,)).fetchall()}


def upsert_channel(conn: Conn, ch: ChannelIn, actor: str) -> tuple[dict[str, Any], bool]:
    """Create or replace the channel named ``ch.name``; returns (row, created)."""
    row = fetch_one(
        conn,
        f"INSERT INTO notify_channels (name, type, config, enabled, created_by) VALUES (%s, %s, %s, %s, %s) "
        f"ON CONFLICT (name) DO UPDATE SET type = EXCLUDED.type, config = EXCLUDED.config, "
        f"enabled = EXCLUDED.enabled, updated_at = now() RETURNING {_COLS}, (xmax = 0) AS created",
        (ch.name, ch.type, Jsonb(ch.config), ch.enabled, actor),
    )
    assert row is not None
    created = bool(row.pop("created"))
    return row, created


def update_channel(conn: Conn, channel_id: int, ch: ChannelIn) -> dict[str, Any] | None:
    return fetch_one(
        conn,
        f"UPDATE notify_channels SET name = %s, type = %s, config = %s, enabled = %s, updated_at = now() "
        f"WHERE id = %s RETURNING {_COLS}",
        (ch.name, ch.type, Jsonb(ch.config), ch.enabled, channel_id),
    )


def delete_channel(conn: Conn, channel_id: int) -> bool:
    return conn.execute("DELETE FROM notify_channels WHERE id = %s", (channel_id,)).rowcount > 0
