"""Replay dead letters after their cause was fixed (a device registered or enabled, a metric added to the catalogue,
a limit raised): each stored payload is decoded again by the ingest decoder against the current registry and
catalogue, its good readings are stored (idempotently: parts stored the first time change nothing), and the dead
letter is marked with the outcome.

The clock of a replay is the letter's ``received_at``: timestamps are judged as they were when the message arrived,
so an old letter is not refused as too old merely because it waited for the fix.

A letter is *fixed* (``replay_ok``) when the parts it lists decode now: for a letter about a whole message (a reason's
field is the topic, the payload, ``ts``...), no part of the message is rejected any more; for a letter listing parts
of a pack (``metrics.salinity_ppt``, ``[3].v``: one letter per message lists every rejected part), none of those
parts (metric or record) is rejected any more. Replaying never
writes new dead letters: what is still wrong is said in ``replay_result``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from ingest.catalogue import Catalogue
from ingest.decode import DeviceEvent, decode_message
from ingest.validate import Reject
from ops_center.db import Conn
from ops_center.devices import dead_letters
from ops_center.devices.dead_letters import DeadLetter, DeadLetterFilter
from ops_center.devices.models import DeviceInfo
from ops_center.devices.service import load_registry, record_seen, record_status
from ops_center.readings import ReadingsStore

log = logging.getLogger("ingest.replay")

EventHandler = Callable[[Conn, DeviceEvent], Any]
_PART: Final = re.compile(r"^(\[\d+\]|metrics(?:\.[a-z][a-z0-9_]*|\[.*\]))")
"""The part of a message a field path points into: a SenML record ``[3]`` or a metric ``metrics.x``."""
_SHOWN_REJECTS: Final = 3


@dataclass(frozen=True, slots=True)
class ReplayOutcome:
    id: int
    ok: bool
    result: str
    readings: int = 0
    """Good readings decoded from the payload (the whole message's, not only this letter's part)."""
    stored: int = 0
    """Of those, readings that were new (the rest were stored before: writes are idempotent)."""
    skipped: bool = False


@dataclass(slots=True)
class ReplaySummary:
    outcomes: list[ReplayOutcome] = field(default_factory=list)
    remaining: int = 0
    """Letters matching the filter not replayed successfully after this call, including those that failed in it
    (filter mode; add ``replayed=False`` to the filter to take only letters never tried)."""

    @property
    def ok(self) -> int:
        return sum(1 for o in self.outcomes if o.ok and not o.skipped)

    @property
    def failed(self) -> int:
        return sum(1 for o in self.outcomes if not o.ok and not o.skipped)

    @property
    def skipped(self) -> int:
        return sum(1 for o in self.outcomes if o.skipped)

    @property
    def readings(self) -> int:
        return sum(o.readings for o in self.outcomes)

    @property
    def stored(self) -> int:
        return sum(o.stored for o in self.outcomes)


def registry_for_replay(conn: Conn) -> dict[str, DeviceInfo]:
    """The current registry as the decoder wants it."""
    return {k: DeviceInfo(e.device_id, e.enabled, e.gateway_id, e.kind, e.ward_code)
            for k, e in load_registry(conn).items()}


def part_of(field_path: str | None) -> str | None:
    """``[3]`` for ``[3].v``, ``metrics.x`` for ``metrics.x``; None for a field about the whole message."""
    if not field_path:
        return None
    m = _PART.match(field_path)
    return m.group(1) if m else None


def replay_dead_letters(
    conn: Conn,
    store: ReadingsStore,
    *,
    catalogue: Catalogue,
    max_payload: int,
    max_age_s: float,
    ids: Sequence[int] | None = None,
    filter: DeadLetterFilter | None = None,
    limit: int = dead_letters.REPLAY_MAX,
    on_event: EventHandler | None = None,
) -> ReplaySummary:
    """Replay the dead letters ``ids`` (letters already replayed successfully are skipped), or up to ``limit`` of
    those matching ``filter`` that were not, oldest first, in the caller's transaction. Each letter is replayed in
    its own savepoint, so one failure does not undo the others. ``on_event`` handles decoded device events (e.g.
    ``ingest.hooks.device_event_hook()``); without it they are reported as not replayed."""
    if (ids is None) == (filter is None):
        raise ValueError("give exactly one of ids and filter")
    letters = dead_letters.claim_for_replay(conn, ids=ids, f=filter, limit=limit)
    registry = registry_for_replay(conn)
    summary = ReplaySummary()
    found = {letter.id for letter in letters}
    for missing in sorted(set(ids or ()) - found):
        summary.outcomes.append(ReplayOutcome(missing, False, "no such dead letter (or another replay holds it)",
                                              skipped=True))
    for letter in letters:
        if ids is not None and letter.replay_ok:
            summary.outcomes.append(ReplayOutcome(letter.id, True, f"skipped: already replayed successfully "
                                                                   f"({letter.replay_result})", skipped=True))
            continue
        outcome = _replay_one(conn, store, letter, registry, catalogue, max_payload, max_age_s, on_event)
        dead_letters.mark_replayed(conn, letter.id, outcome.ok, outcome.result)
        summary.outcomes.append(outcome)
    summary.outcomes.sort(key=lambda o: o.id)
    if filter is not None:
        summary.remaining = dead_letters.count_pending(conn, filter)
    return summary


def _replay_one(conn: Conn, store: ReadingsStore, letter: DeadLetter, registry: dict[str, DeviceInfo],
                catalogue: Catalogue, max_payload: int, max_age_s: float,
                on_event: EventHandler | None) -> ReplayOutcome:
    if letter.truncated:
        return ReplayOutcome(letter.id, False, f"not replayable: only {len(letter.payload)} of {letter.payload_size} "
                                               "bytes of the payload were kept")
    now = letter.received_at.timestamp()
    decoded = decode_message(letter.topic, letter.payload, now, registry, catalogue, max_payload, max_age_s)
    still = _still_rejected(letter, decoded.rejects)
    notes: list[str] = []
    try:
        with conn.transaction():
            written = store.write_batch(conn, decoded.readings)
            last: dict[str, float] = {}
            for ts, device_id, _metric, _value in decoded.readings:
                if ts > last.get(device_id, 0.0):
                    last[device_id] = ts
            record_seen(conn, last)
            if decoded.status is not None:
                st = decoded.status
                record_status(conn, st.device_id, "online" if st.online else "offline", st.ts)
                notes.append(f"status {'online' if st.online else 'offline'} recorded")
            for ev in decoded.events:
                if on_event is None:
                    still.append(Reject("not_replayed", f"event {ev.kind!r}: no device-event consumer is installed",
                                        ev.device_id, None, None))
                else:
                    on_event(conn, ev)
                    notes.append(f"event {ev.kind!r} handled")
    except Exception as exc:  # a database error on one letter must not stop the others
        store.forget_partitions()
        log.exception("replay of dead letter %s failed", letter.id)
        return ReplayOutcome(letter.id, False, f"replay failed: {type(exc).__name__}: {str(exc)[:300]}")
    what = f"{len(decoded.readings)} reading(s) decoded, {written.inserted} new"
    if notes:
        what += "; " + "; ".join(notes)
    if not still:
        return ReplayOutcome(letter.id, True, f"ok: {what}", len(decoded.readings), written.inserted)
    shown = "; ".join(f"{r.reason_code}: {r.detail}" for r in still[:_SHOWN_REJECTS])
    more = f" (+{len(still) - _SHOWN_REJECTS} more)" if len(still) > _SHOWN_REJECTS else ""
    return ReplayOutcome(letter.id, False, f"still rejected: {shown}{more}; {what}", len(decoded.readings),
                         written.inserted)


def _still_rejected(letter: DeadLetter, rejects: Sequence[Reject]) -> list[Reject]:
    """The rejects of the new decoding that mean this letter's cause is not fixed: any, when the letter is about the
    whole message (or lists fewer reasons than it had); else those about the parts it lists or the whole message."""
    fields = [r.field for r in letter.reasons] or [letter.field]
    parts = {part_of(f) for f in fields}
    if None in parts or letter.reason_count > len(letter.reasons):
        return list(rejects)
    return [r for r in rejects if part_of(r.field) in (None, *parts)]
