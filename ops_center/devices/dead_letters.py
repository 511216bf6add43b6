"""Reading and marking dead letters: the messages (or parts of packs) ingest rejected, kept with their raw bytes.

Ingest writes them; operators list and filter them here; ``ingest.replay`` re-decodes them after a fix and records
the outcome with ``mark_replayed`` (``replay_ok`` says whether the cause is gone, ``replay_result`` says what
happened).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from ops_center.db import Conn, fetch_all
from ops_center.devices.models import InvalidValue, shown
from ops_center.devices.text import like_pattern
from ops_center.devices.validate import check_unicode

REASON_RE: Final = re.compile(r"[a-z][a-z0-9_]{0,63}")
TOPIC_PREFIX_MAX: Final = 512
REPLAY_MAX: Final = 1000
"""At most this many dead letters are replayed per call."""

_COLS: Final = ("id, received_at, topic, payload, payload_size, device_id, reason, detail, field, value, "
                "replayed_at, replay_ok, replay_result")


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: int
    received_at: datetime
    topic: str
    payload: bytes
    payload_size: int
    device_id: str | None
    reason: str
    detail: str
    field: str | None
    value: str | None
    replayed_at: datetime | None
    replay_ok: bool | None
    replay_result: str | None

    @property
    def truncated(self) -> bool:
        """Only the first bytes were kept (the message was larger than the cap)."""
        return len(self.payload) < self.payload_size


@dataclass(frozen=True, slots=True)
class DeadLetterFilter:
    """Every given filter must match. ``replayed``: replayed at all; ``replay_ok``: the last replay succeeded."""

    reason: str | None = None
    device_id: str | None = None
    topic_prefix: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    replayed: bool | None = None
    replay_ok: bool | None = None

    def checked(self) -> DeadLetterFilter:
        if self.reason is not None and (type(self.reason) is not str or not REASON_RE.fullmatch(self.reason)):
            raise InvalidValue("reason", self.reason, f"value {shown(self.reason)} is not a reason code "
                                                      "(lower-case letters, digits and '_')")
        if self.topic_prefix is not None:
            if type(self.topic_prefix) is not str or len(self.topic_prefix) > TOPIC_PREFIX_MAX:
                raise InvalidValue("topic_prefix", str(self.topic_prefix)[:40],
                                   f"is not text of at most {TOPIC_PREFIX_MAX} characters")
            check_unicode("topic_prefix", self.topic_prefix)
        if self.device_id is not None:
            if type(self.device_id) is not str or len(self.device_id) > 200:
                raise InvalidValue("device_id", str(self.device_id)[:40], "is not text of at most 200 characters")
            check_unicode("device_id", self.device_id)
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
                raise InvalidValue(name, value, f"value {shown(value)} is not a time with a UTC offset")
        if self.since is not None and self.until is not None and self.since > self.until:
            raise InvalidValue("since", self.since.isoformat(), f"is after until ({self.until.isoformat()})")
        return self

    def where(self, params: dict[str, Any]) -> list[str]:
        clauses: list[str] = []
        if self.reason is not None:
            clauses.append("reason = %(reason)s")
            params["reason"] = self.reason
        if self.device_id is not None:
            clauses.append("device_id = %(device_id)s")
            params["device_id"] = self.device_id
        if self.topic_prefix:
            clauses.append("topic LIKE %(topic_prefix)s")
            params["topic_prefix"] = like_pattern(self.topic_prefix)[1:]  # 'prefix%': no leading wildcard
        if self.since is not None:
            clauses.append("received_at >= %(since)s")
            params["since"] = self.since
        if self.until is not None:
            clauses.append("received_at < %(until)s")
            params["until"] = self.until
        if self.replayed is not None:
            clauses.append("replayed_at IS NOT NULL" if self.replayed else "replayed_at IS NULL")
        if self.replay_ok is not None:
            clauses.append("replay_ok" if self.replay_ok else "replay_ok IS NOT TRUE")
        return clauses


def _letter(row: Mapping[str, Any]) -> DeadLetter:
    return DeadLetter(**{**row, "payload": bytes(row["payload"])})


def list_dead_letters(conn: Conn, f: DeadLetterFilter | None = None, *, before_id: int | None = None,
                      limit: int = 50) -> tuple[list[DeadLetter], int | None]:
    """Newest first; ``(items, before_id of the next page or None)``."""
    f = (f or DeadLetterFilter()).checked()
    params: dict[str, Any] = {"n": limit + 1}
    clauses = f.where(params)
    if before_id is not None:
        clauses.append("id < %(before)s")
        params["before"] = before_id
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = fetch_all(conn, f"SELECT {_COLS} FROM dead_letters {where} ORDER BY id DESC LIMIT %(n)s", params)  # type: ignore[arg-type]
    items = [_letter(r) for r in rows[:limit]]
    return items, (items[-1].id if len(rows) > limit and items else None)


def get_dead_letter(conn: Conn, letter_id: int) -> DeadLetter | None:
    rows = fetch_all(conn, f"SELECT {_COLS} FROM dead_letters WHERE id = %s", (letter_id,))  # type: ignore[arg-type]
    return _letter(rows[0]) if rows else None


def claim_for_replay(conn: Conn, *, ids: Sequence[int] | None = None, f: DeadLetterFilter | None = None,
                     limit: int = REPLAY_MAX) -> list[DeadLetter]:
    """Lock the dead letters to replay, oldest first: the ids given (whatever their state), or those matching
    ``f`` whose last replay did not succeed. Letters another replay holds are skipped (``SKIP LOCKED``)."""
    params: dict[str, Any] = {"n": limit}
    if ids is not None:
        clauses = ["id = ANY(%(ids)s)"]
        params["ids"] = list(ids)
    else:
        clauses = [*(f or DeadLetterFilter()).checked().where(params), "replay_ok IS NOT TRUE"]
    rows = fetch_all(conn, f"SELECT {_COLS} FROM dead_letters WHERE {' AND '.join(clauses)} "  # type: ignore[arg-type]
                           "ORDER BY id LIMIT %(n)s FOR UPDATE SKIP LOCKED", params)
    return [_letter(r) for r in rows]


def count_pending(conn: Conn, f: DeadLetterFilter | None = None) -> int:
    """How many dead letters match ``f`` and were not replayed successfully."""
    params: dict[str, Any] = {}
    clauses = [*(f or DeadLetterFilter()).checked().where(params), "replay_ok IS NOT TRUE"]
    row = conn.execute(f"SELECT count(*) FROM dead_letters WHERE {' AND '.join(clauses)}", params).fetchone()  # type: ignore[arg-type]
    return int(row[0]) if row else 0


def mark_replayed(conn: Conn, letter_id: int, ok: bool, result: str) -> None:
    conn.execute("UPDATE dead_letters SET replayed_at = now(), replay_ok = %s, replay_result = %s WHERE id = %s",
                 (ok, result[:2000], letter_id))
