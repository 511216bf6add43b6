"""Accepting snapshots and heartbeats at the national instance.

Checks, in order, each refusal naming its field and value: size, JSON, schema version (an unknown *major* is
refused; a newer *minor* is read leniently, its unknown fields dropped and listed), the envelope, the province (a
credential writes only its own code), the kind, the period (not after this instance's current month), the kind's
data. Then, idempotent by (province, kind, period, version): the same version again is a ``duplicate``; the same
version with other content is a conflict; an older version than the stored one is recorded as ``stale`` and never
overwrites it (one ``INSERT … ON CONFLICT DO UPDATE … WHERE version <`` statement, so racing requests agree).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from psycopg.types.json import Jsonb
from pydantic import ValidationError

from ops_center.db import Conn
from ops_center.federation import periods
from ops_center.federation.registry import producers
from ops_center.federation.wire import (
    SUPPORTED_MAJOR,
    SUPPORTED_MINOR,
    VERSION_PATTERN,
    Envelope,
    Heartbeat,
    Wire,
    content_hash,
)
from ops_center.settings import LOCAL_TIMEZONE

DEAD_LETTER_CAP = 65536
_VERSION = re.compile(VERSION_PATTERN)


class Refused(Exception):
    """A snapshot (or heartbeat) this instance will not take: HTTP ``status``, a ``reason`` code, the field."""

    def __init__(self, status: int, reason: str, detail: str, field: str | None = None, value: Any = None) -> None:
        super().__init__(detail)
        self.status, self.reason, self.detail, self.field = status, reason, detail, field
        self.value = None if value is None else _short(value)


@dataclass(frozen=True)
class Accepted:
    outcome: str  # stored | duplicate | stale
    province: str
    kind: str
    period: str
    version: int
    stored_version: int
    ignored: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "province": self.province, "kind": self.kind, "period": self.period,
                "version": self.version, "stored_version": self.stored_version, "ignored_fields": self.ignored}


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    text = text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")
    return text if len(text) <= 200 else text[:200] + "…"


def _path(loc: tuple[Any, ...], prefix: str = "") -> str:
    out = prefix
    for p in loc:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "body"


def _invalid(exc: ValidationError, prefix: str = "") -> Refused:
    err = exc.errors()[0]
    where = _path(tuple(err.get("loc", ())), prefix)
    value = err.get("input")
    msg = str(err.get("msg", "")).removeprefix("Value error, ")
    return Refused(422, "invalid", f"{where}: {msg} (got {_short(value)})", where, value)


def parse_body(raw: bytes, max_bytes: int) -> dict[str, Any]:
    if len(raw) > max_bytes:
        raise Refused(413, "too_large", f"body: {len(raw)} bytes is more than the limit of {max_bytes}", "body",
                      len(raw))
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise Refused(400, "malformed_json", f"body: not JSON ({exc})", "body", raw[:80]) from exc
    if not isinstance(doc, dict):
        raise Refused(422, "invalid", f"body: expected a JSON object, got {type(doc).__name__}", "body", doc)
    return doc


def schema_mode(doc: dict[str, Any]) -> bool:
    """True when ``doc`` is from a newer minor version (read leniently); refuses an unknown major."""
    value = doc.get("schema_version")
    if not isinstance(value, str) or not _VERSION.fullmatch(value):
        raise Refused(422, "invalid", f"schema_version: expected MAJOR.MINOR, got {_short(value)}", "schema_version",
                      value)
    major, minor = (int(x) for x in value.split("."))
    if major != SUPPORTED_MAJOR:
        raise Refused(422, "unsupported_schema_version",
                      f"schema_version: {value!r} is not supported here (this instance reads "
                      f"{SUPPORTED_MAJOR}.x up to {SUPPORTED_MAJOR}.{SUPPORTED_MINOR}); upgrade the national instance",
                      "schema_version", value)
    return minor > SUPPORTED_MINOR


def _validate(model: type[Wire], doc: Any, lenient: bool, ignored: list[str], prefix: str = "") -> Wire:
    ctx: dict[str, Any] = {"lenient": lenient, "ignored": ignored}
    try:
        return model.model_validate(doc, context=ctx)
    except ValidationError as exc:
        raise _invalid(exc, prefix) from exc


def check(doc: dict[str, Any], province: str, now: datetime, max_skew_s: float, tz: str
          ) -> tuple[Envelope, Wire, list[str]]:
    """The envelope and the kind's data, validated; ``Refused`` otherwise."""
    lenient = schema_mode(doc)
    ignored: list[str] = []
    env = _validate(Envelope, doc, lenient, ignored)
    assert isinstance(env, Envelope)
    if env.province != province:
        raise Refused(403, "foreign_province", f"province: {env.province!r} is not this credential's province "
                      f"{province!r}; a province writes only its own code", "province", env.province)
    producer = producers().get(env.kind)
    if producer is None:
        raise Refused(422, "unknown_kind", f"kind: {env.kind!r} is not a snapshot kind this instance knows "
                      f"({', '.join(producers())})", "kind", env.kind)
    latest = periods.month_of(now + timedelta(seconds=max_skew_s), tz)
    if env.period > latest:
        raise Refused(422, "future_period", f"period: {env.period!r} is after this instance's current month "
                      f"{periods.month_of(now, tz)!r} (is the province's clock ahead?)", "period", env.period)
    data = _validate(producer.data_model, env.data, lenient, ignored, "data")
    return env, data, ignored


def accept(conn: Conn, province: str, doc: dict[str, Any], now: datetime, *, max_skew_s: float,
           tz: str = LOCAL_TIMEZONE) -> Accepted:
    env, data, ignored = check(doc, province, now, max_skew_s, tz)
    body = data.model_dump(mode="json", by_alias=True)
    digest = content_hash(body)
    key = (env.province, env.kind, env.period, env.version)
    new = conn.execute("INSERT INTO federation_receipts (province, kind, period, version, content_hash, outcome) "
                       "VALUES (%s, %s, %s, %s, %s, 'stored') ON CONFLICT DO NOTHING RETURNING 1",
                       (*key, digest)).fetchone()
    if new is None:
        row = conn.execute("SELECT content_hash FROM federation_receipts WHERE province = %s AND kind = %s "
                           "AND period = %s AND version = %s", key).fetchone()
        if row is not None and row[0] != digest:
            raise Refused(409, "version_conflict", f"version: {env.version} of {env.kind} {env.period} was received "
                          "before with other content; a new content needs a new version", "version", env.version)
        outcome = "duplicate"
    else:
        stored = conn.execute(
            "INSERT INTO federation_snapshots AS s (province, kind, period, version, schema_version, generated_at, "
            "received_at, content_hash, data) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (province, kind, period) DO UPDATE SET version = EXCLUDED.version, "
            "schema_version = EXCLUDED.schema_version, generated_at = EXCLUDED.generated_at, "
            "received_at = EXCLUDED.received_at, content_hash = EXCLUDED.content_hash, data = EXCLUDED.data "
            "WHERE s.version < EXCLUDED.version RETURNING version",
            (*key, env.schema_version, env.generated_at, now, digest, Jsonb(body))).fetchone()
        outcome = "stored" if stored is not None else "stale"
        if outcome == "stale":
            conn.execute("UPDATE federation_receipts SET outcome = 'stale' WHERE province = %s AND kind = %s "
                         "AND period = %s AND version = %s", key)
    skew = (env.generated_at - now).total_seconds()
    conn.execute("UPDATE federation_provinces SET last_contact_at = %s, last_snapshot_at = %s, "
                 "last_sent_at = greatest(last_sent_at, %s), "
                 "clock_skew_s = CASE WHEN %s > 0 THEN %s ELSE clock_skew_s END WHERE code = %s",
                 (now, now, env.generated_at, skew, skew, province))
    current = conn.execute("SELECT version FROM federation_snapshots WHERE province = %s AND kind = %s "
                           "AND period = %s", key[:3]).fetchone()
    return Accepted(outcome, *key, int(current[0]) if current else env.version, ignored)


def heartbeat(conn: Conn, province: str, doc: dict[str, Any], now: datetime) -> dict[str, Any]:
    lenient = schema_mode(doc)
    hb = _validate(Heartbeat, doc, lenient, [])
    assert isinstance(hb, Heartbeat)
    if hb.province != province:
        raise Refused(403, "foreign_province", f"province: {hb.province!r} is not this credential's province "
                      f"{province!r}", "province", hb.province)
    skew = (hb.sent_at - now).total_seconds()
    conn.execute("UPDATE federation_provinces SET last_contact_at = %s, last_heartbeat_at = %s, schedule_s = %s, "
                 "clock_skew_s = %s, software = %s, outbox_pending = %s WHERE code = %s",
                 (now, now, hb.publish_interval_s, skew, hb.software, hb.outbox_pending, province))
    return {"outcome": "ok", "province": province, "clock_skew_s": round(skew, 3)}


def dead_letter(conn: Conn, province: str | None, claimed: Any, raw: bytes, refused: Refused,
                size: int | None = None) -> int:
    """One row per refused request from an authenticated province (the body capped; ``size``: the whole body's
    size when only its head was read)."""
    row = conn.execute(
        "INSERT INTO federation_dead_letters (province, claimed_province, status, reason, detail, field, value, "
        "payload, payload_size) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (province, _short(claimed)[:20] if claimed is not None else None, refused.status, refused.reason,
         refused.detail.replace("\x00", "\\x00"), refused.field, refused.value, raw[:DEAD_LETTER_CAP],
         max(len(raw), size or 0))).fetchone()
    assert row is not None
    return int(row[0])
