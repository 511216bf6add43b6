"""Silences (Alertmanager style): label matchers, a time window, an author and a comment. A silence's state is
derived from its timestamps — pending before ``starts_at``, active until ``ends_at``, expired after; expiring one
early sets ``ends_at`` to now. Matching alerts stay stored and are shown as muted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from alerts.errors import RuleError
from alerts.matchers import MAX_MATCHERS, Matcher, describe, match_all, parse_matchers
from alerts.rules.models import format_errors
from ops_center.db import Conn, fetch_all, fetch_one

SilenceState = Literal["pending", "active", "expired"]
MAX_SILENCE = timedelta(days=366)


class SilenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    matchers: list[Matcher] = Field(min_length=1, max_length=MAX_MATCHERS)
    starts_at: datetime | None = None
    ends_at: datetime
    comment: str = Field(min_length=1, max_length=2000)

    @model_validator(mode="after")
    def _window(self) -> SilenceIn:
        for name, value in (("starts_at", self.starts_at), ("ends_at", self.ends_at)):
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name}: give a timezone offset, e.g. 2025-07-01T08:00:00+07:00")
        if self.starts_at is not None and self.ends_at <= self.starts_at:
            raise ValueError(f"ends_at: {self.ends_at.isoformat()} is not after starts_at "
                             f"{self.starts_at.isoformat()}")
        if all(m.op in ("!=", "!~") or (m.op == "=~" and m.value in (".*", "")) for m in self.matchers):
            raise ValueError("matchers: at least one matcher must select something (an = or a specific =~)")
        return self


def validate_silence(data: Any, prefix: str = "") -> SilenceIn:
    try:
        return SilenceIn.model_validate(data)
    except ValidationError as exc:
        raise RuleError(format_errors(exc, prefix)) from exc


@dataclass(frozen=True)
class Silence:
    id: int
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str

    def matches(self, labels: dict[str, Any]) -> bool:
        return match_all(self.matchers, labels)

    def reason(self) -> str:
        return f"silence #{self.id} by {self.created_by} until {self.ends_at.isoformat()}: {self.comment[:120]}"


def state(starts_at: datetime, ends_at: datetime, now: datetime) -> SilenceState:
    if now < starts_at:
        return "pending"
    return "active" if now < ends_at else "expired"


_COLS = "id, matchers, starts_at, ends_at, created_by, comment, created_at, updated_at"


def _silence(row: dict[str, Any]) -> Silence:
    return Silence(int(row["id"]), tuple(parse_matchers(row["matchers"])), row["starts_at"], row["ends_at"],
                   row["created_by"], row["comment"])


def active(conn: Conn, now: datetime) -> list[Silence]:
    rows = fetch_all(conn, f"SELECT {_COLS} FROM silences WHERE starts_at <= %s AND ends_at > %s ORDER BY id",
                     (now, now))
    return [_silence(r) for r in rows]


def silence_json(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    matchers = parse_matchers(row["matchers"])
    return {"id": row["id"], "matchers": [m.model_dump() for m in matchers], "matchers_text": describe(matchers),
            "starts_at": row["starts_at"], "ends_at": row["ends_at"], "created_by": row["created_by"],
            "comment": row["comment"], "state": state(row["starts_at"], row["ends_at"], now),
            "created_at": row["created_at"], "updated_at": row["updated_at"]}


def create(conn: Conn, s: SilenceIn, actor: str, now: datetime) -> dict[str, Any]:
    starts = s.starts_at or now
    if s.ends_at - starts > MAX_SILENCE:
        raise RuleError([{"field": "ends_at", "message": "a silence lasts at most 366 days",
                          "value": s.ends_at.isoformat()}])
    if s.ends_at <= now:
        raise RuleError([{"field": "ends_at", "message": "is already in the past", "value": s.ends_at.isoformat()}])
    row = fetch_one(
        conn,
        f"INSERT INTO silences (matchers, starts_at, ends_at, created_by, comment) VALUES (%s, %s, %s, %s, %s) "
        f"RETURNING {_COLS}",
        (Jsonb([m.model_dump() for m in s.matchers]), starts, s.ends_at, actor, s.comment),
    )
    assert row is not None
    return row


def get(conn: Conn, silence_id: int) -> dict[str, Any] | None:
    return fetch_one(conn, f"SELECT {_COLS} FROM silences WHERE id = %s", (silence_id,))


def expire(conn: Conn, silence_id: int, now: datetime) -> dict[str, Any] | None:
    """End the silence now (a no-op on one already expired). Pending ones end before they start: their window
    collapses to [now - 1µs, now)."""
    return fetch_one(
        conn,
        f"UPDATE silences SET ends_at = CASE WHEN ends_at > %(now)s THEN %(now)s ELSE ends_at END, "
        f"starts_at = LEAST(starts_at, %(now)s - interval '1 microsecond'), updated_at = now() "
        f"WHERE id = %(id)s RETURNING {_COLS}",
        {"now": now, "id": silence_id},
    )


def list_silences(conn: Conn, now: datetime, state_filter: str | None, after_id: int | None,
                  limit: int) -> list[dict[str, Any]]:
    where = ["true"]
    params: dict[str, Any] = {"now": now, "limit": limit, "after": after_id}
    if state_filter == "active":
        where.append("starts_at <= %(now)s AND ends_at > %(now)s")
    elif state_filter == "pending":
        where.append("starts_at > %(now)s")
    elif state_filter == "expired":
        where.append("ends_at <= %(now)s")
    if after_id is not None:
        where.append("id < %(after)s")
    return fetch_all(conn, f"SELECT {_COLS} FROM silences WHERE {' AND '.join(where)} ORDER BY id DESC "
                           f"LIMIT %(limit)s", params)
