"""Dead letters (owner of ``dead_letters``): the messages ingest and the dossier path rejected, kept with their raw
bytes, ONE row per rejected message listing all its reasons.

Writers call :func:`record` (ingest's batch writer, the dossier service, the dossier HTTP endpoint); it caps the
payload, applies the per-device rate cap (``dead_letter_quota``) when asked, and makes every text storable.
Operators list and filter letters here; ``ingest.replay`` and the dossier replay re-decode them after a fix and record
the outcome with ``mark_replayed`` (``replay_ok`` says whether the cause is gone, ``replay_result`` says what
happened); :func:`prune` applies the retention policy.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from psycopg.types.json import Jsonb

from ops_center.db import Conn, fetch_all
from ops_center.devices import dead_letter_quota as quota
from ops_center.devices.models import InvalidValue, shown
from ops_center.devices.text import like_pattern
from ops_center.devices.validate import check_unicode
from ops_center.storable import clean_text

REASON_RE: Final = re.compile(r"[a-z][a-z0-9_]{0,63}")
TOPIC_PREFIX_MAX: Final = 512
REPLAY_MAX: Final = 1000
"""At most this many dead letters are replayed per call."""
REASONS_LISTED: Final = 100
"""A letter lists at most this many of its reasons (``reason_count`` counts all; ``reason_codes`` has every code)."""
DETAIL_SHOWN: Final = 3
"""The row's ``detail`` quotes this many reasons' details."""

_COLS: Final = ("id, received_at, topic, payload, payload_size, device_id, reason, detail, field, value, "
                "replayed_at, replay_ok, replay_result, reasons, reason_count, reason_codes")


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason a message (or a part of it: a metric, a SenML record, a dossier event) was rejected.
    ``device_id`` is the device the part names, which may differ from the letter's (the publisher)."""

    reason: str
    detail: str
    field: str | None = None
    value: str | None = None
    device_id: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"reason": self.reason, "detail": self.detail, "field": self.field, "value": self.value,
                "device_id": self.device_id}


@dataclass(frozen=True, slots=True)
class NewLetter:
    """A rejected message to record: its topic (or source), raw bytes, the publishing device (``None`` when the
    message names none) and every reason, in order (at least one)."""

    topic: str
    payload: bytes
    device_id: str | None
    reasons: tuple[Reason, ...]


@dataclass(frozen=True, slots=True)
class Recorded:
    stored: int
    dropped: int
    """Letters counted against the rate cap instead of stored."""


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
    reasons: tuple[Reason, ...] = ()
    reason_count: int = 1
    reason_codes: tuple[str, ...] = ()

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
            clauses.append("reason_codes @> ARRAY[%(reason)s]::text[]")
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
    reasons = tuple(Reason(r.get("reason") or "", r.get("detail") or "", r.get("field"), r.get("value"),
                           r.get("device_id")) for r in row["reasons"] or ())
    return DeadLetter(**{**row, "payload": bytes(row["payload"]), "reasons": reasons,
                         "reason_codes": tuple(row["reason_codes"] or ())})


# ----------------------------------------------------------------------------------------------------------- writing


def record(conn: Conn, letters: Sequence[NewLetter], *, payload_cap: int, cap: quota.Cap | None = None,
           now: datetime | None = None) -> Recorded:
    """Store one row per letter in the caller's transaction: the payload cut to ``payload_cap`` bytes (its full size
    kept), the first reason in ``reason/detail/field/value``, up to :data:`REASONS_LISTED` reasons in ``reasons``.
    With ``cap``, letters over a device's rate cap are counted in ``dead_letter_quota`` instead (the first ones of
    a batch are kept). Every text is made storable (NUL and lone surrogates escaped), so this write cannot fail on
    the data it describes."""
    if not letters:
        return Recorded(0, 0)
    kept = list(letters)
    if cap is not None:
        kept = _within_cap(conn, kept, cap, now or datetime.now().astimezone())
    if kept:
        firsts = [letter.reasons[0] for letter in kept]
        conn.execute(
            "INSERT INTO dead_letters (topic, payload, payload_size, device_id, reason, detail, field, value, "
            "reasons, reason_count, reason_codes) "
            "SELECT t, p, s, d, r, de, f, v, rs, n, string_to_array(c, ',') FROM unnest(%s::text[], %s::bytea[], "
            "%s::int[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::jsonb[], %s::int[], "
            "%s::text[]) AS x(t, p, s, d, r, de, f, v, rs, n, c)",
            (
                [clean_text(x.topic)[:1024] for x in kept],
                [x.payload[:payload_cap] for x in kept],
                [len(x.payload) for x in kept],
                [clean_text(x.device_id)[:200] if x.device_id else None for x in kept],
                [_code(r.reason) for r in firsts],
                [_detail(x.reasons) for x in kept],
                [clean_text(r.field)[:256] if r.field else None for r in firsts],
                [clean_text(r.value)[:512] if r.value else None for r in firsts],
                [Jsonb([_clean(r) for r in x.reasons[:REASONS_LISTED]]) for x in kept],
                [len(x.reasons) for x in kept],
                [",".join(dict.fromkeys(_code(r.reason) for r in x.reasons)) for x in kept],
            ),
        )
    return Recorded(len(kept), len(letters) - len(kept))


def _within_cap(conn: Conn, letters: list[NewLetter], cap: quota.Cap, now: datetime) -> list[NewLetter]:
    wanted: dict[str, quota.Wanted] = {}
    for x in letters:
        key = x.device_id or quota.NO_DEVICE
        had = wanted.get(key)
        wanted[key] = quota.Wanted((had.count if had else 0) + 1, _code(x.reasons[-1].reason))
    allowed = quota.admit(conn, wanted, cap, now)
    kept: list[NewLetter] = []
    for x in letters:
        key = x.device_id or quota.NO_DEVICE
        if allowed.get(key, 0) > 0:
            allowed[key] -= 1
            kept.append(x)
    return kept


def _code(reason: str) -> str:
    return reason if REASON_RE.fullmatch(reason) else "invalid_reason"


def _clean(r: Reason) -> dict[str, Any]:
    return {"reason": _code(r.reason), "detail": clean_text(r.detail)[:1000],
            "field": clean_text(r.field)[:256] if r.field else None,
            "value": clean_text(r.value)[:512] if r.value else None,
            "device_id": clean_text(r.device_id)[:200] if r.device_id else None}


def _detail(reasons: Sequence[Reason]) -> str:
    if len(reasons) == 1:
        return clean_text(reasons[0].detail)[:2000]
    shown_ = "; ".join(r.detail for r in reasons[:DETAIL_SHOWN])
    more = f" (+{len(reasons) - DETAIL_SHOWN} more)" if len(reasons) > DETAIL_SHOWN else ""
    return clean_text(f"{len(reasons)} problems: {shown_}{more}")[:2000]


def prune(conn: Conn, older_than: datetime, *, batch: int = 10_000) -> int:
    """The retention policy: delete letters received before ``older_than`` (in batches, each its own statement; the
    caller commits) and the rate-cap counts of windows that old. Returns how many letters went."""
    total = 0
    while True:
        cur = conn.execute("DELETE FROM dead_letters WHERE id IN (SELECT id FROM dead_letters WHERE received_at < %s "
                           "ORDER BY id LIMIT %s)", (older_than, batch))
        total += cur.rowcount
        if cur.rowcount < batch:
            break
    quota.prune(conn, older_than)
    return total


# ----------------------------------------------------------------------------------------------------------- reading


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
    rows = fetch_all(conn, f"SELECT {_COLS} FROM dead_letters {where} ORDER BY id DESC LIMIT %(n)s", params)
    items = [_letter(r) for r in rows[:limit]]
    return items, (items[-1].id if len(rows) > limit and items else None)


def get_dead_letter(conn: Conn, letter_id: int) -> DeadLetter | None:
    rows = fetch_all(conn, f"SELECT {_COLS} FROM dead_letters WHERE id = %s", (letter_id,))
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
    rows = fetch_all(conn, f"SELECT {_COLS} FROM dead_letters WHERE {' AND '.join(clauses)} "
                           "ORDER BY id LIMIT %(n)s FOR UPDATE SKIP LOCKED", params)
    return [_letter(r) for r in rows]


def claim_feed_for_replay(conn: Conn, topic: str, topic_like: str | None, *, ids: Sequence[int] | None = None,
                          limit: int = REPLAY_MAX) -> list[DeadLetter]:
    """Lock a feed's dead letters (topic ``topic``, or matching the LIKE pattern ``topic_like``) whose last replay
    did not succeed, oldest first; ``ids``: only those among them. Letters another replay holds are skipped."""
    params: dict[str, Any] = {"n": limit, "topic": topic}
    clauses = ["topic = %(topic)s" if topic_like is None else "(topic = %(topic)s OR topic LIKE %(like)s)",
               "replay_ok IS NOT TRUE"]
    if topic_like is not None:
        params["like"] = topic_like
    if ids is not None:
        clauses.append("id = ANY(%(ids)s)")
        params["ids"] = list(ids)
    rows = fetch_all(conn, f"SELECT {_COLS} FROM dead_letters WHERE {' AND '.join(clauses)} "
                           "ORDER BY id LIMIT %(n)s FOR UPDATE SKIP LOCKED", params)
    return [_letter(r) for r in rows]


def count_pending(conn: Conn, f: DeadLetterFilter | None = None) -> int:
    """How many dead letters match ``f`` and were not replayed successfully."""
    params: dict[str, Any] = {}
    clauses = [*(f or DeadLetterFilter()).checked().where(params), "replay_ok IS NOT TRUE"]
    row = conn.execute(f"SELECT count(*) FROM dead_letters WHERE {' AND '.join(clauses)}", params).fetchone()
    return int(row[0]) if row else 0


def mark_replayed(conn: Conn, letter_id: int, ok: bool, result: str) -> None:
    conn.execute("UPDATE dead_letters SET replayed_at = now(), replay_ok = %s, replay_result = %s WHERE id = %s",
                 (ok, result[:2000], letter_id))
