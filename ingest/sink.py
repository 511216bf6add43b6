"""Write one batch of decoded messages in ONE transaction: readings (idempotent), dead letters (one per rejected
message, filed under its publisher, within the per-device rate cap), last_seen, device status, device events, a
coalesced live-feed event, and the inline alert rules. The caller acks the batch's messages only after this commits;
``ingest.isolation`` splits a batch the database refuses."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ingest.decode import Decoded
from ingest.validate import Reject
from ops_center.db import Conn
from ops_center.devices import dead_letters
from ops_center.devices.dead_letter_quota import Cap
from ops_center.devices.dead_letters import NewLetter, Reason
from ops_center.devices.service import record_seen, record_status
from ops_center.events import emit
from ops_center.readings import PreparedBatch, ReadingRow, ReadingsStore

log = logging.getLogger("ingest.sink")
FEED_MAX_ENTRIES = 2000


class BatchHook(Protocol):
    """Inline consumers of a batch (the alert engine's stream rules): called inside the batch's transaction."""

    def on_batch(self, conn: Conn, rows: list[ReadingRow]) -> int: ...


@dataclass
class RawMessage:
    topic: str
    payload: bytes


@dataclass
class BatchResult:
    messages: int = 0
    readings: int = 0
    stored: int = 0
    rejects: dict[str, int] = field(default_factory=dict)
    """Rejected messages or parts of packs, by reason code."""
    letters: int = 0
    """Dead letters stored (one per rejected message)."""
    letters_dropped: int = 0
    """Dead letters over the per-device rate cap: counted, not stored."""

    def add(self, other: BatchResult) -> None:
        self.messages += other.messages
        self.readings += other.readings
        self.stored += other.stored
        self.letters += other.letters
        self.letters_dropped += other.letters_dropped
        for reason, n in other.rejects.items():
            self.rejects[reason] = self.rejects.get(reason, 0) + n


def reasons_of(rejects: Sequence[Reject]) -> tuple[Reason, ...]:
    return tuple(Reason(r.reason_code, r.detail, r.field, r.value_repr, r.device_id) for r in rejects)


def letter_for(raw: RawMessage, dec: Decoded, extra: Sequence[Reason] = ()) -> NewLetter:
    """The one dead letter of a message: filed under its publisher (the topic's device or gateway, None for a
    malformed topic), never under a device a record merely names (that one is in the reason)."""
    publisher = dec.topic.entity_id if dec.topic is not None else None
    return NewLetter(raw.topic, raw.payload, publisher, (*extra, *reasons_of(dec.rejects)))


@dataclass
class PreparedWrite:
    """What ``BatchWriter.prepare`` makes of a batch: its parts sorted out, its readings prepared for the store."""

    messages: int
    readings: list[ReadingRow] = field(default_factory=list)
    letters: list[NewLetter] = field(default_factory=list)
    last_seen: dict[str, float] = field(default_factory=dict)
    statuses: list[Any] = field(default_factory=list)
    events: list[Any] = field(default_factory=list)
    dossiers: list[RawMessage] = field(default_factory=list)
    rows: PreparedBatch | None = None
    feed: tuple[list[list[Any]], bool] | None = None


class BatchWriter:
    def __init__(
        self,
        store: ReadingsStore,
        *,
        dead_letter_cap: int,
        rate_cap: Cap | None = None,
        hooks: Sequence[BatchHook] = (),
        on_device_event: Callable[[Conn, Any], Any] | None = None,
        on_dossier_events: Callable[[Conn, str, bytes], list[NewLetter]] | None = None,
        seen_step_s: float = 5.0,
    ) -> None:
        """``dead_letter_cap``: payload bytes kept per letter; ``rate_cap``: letters per device and window.
        ``seen_step_s``: ``last_seen`` moves only when it advances by more than this (each row write costs
        ~30 µs; staleness is judged in minutes)."""
        self.store = store
        self.seen_step_s = seen_step_s
        self.cap = dead_letter_cap
        self.rate_cap = rate_cap
        self.hooks = list(hooks)
        self.on_device_event = on_device_event
        self.on_dossier_events = on_dossier_events

    def prepare(self, decoded: Sequence[tuple[RawMessage, Decoded | None]]) -> PreparedWrite:
        """The Python share of writing a batch, no I/O: ingest does it on its decoding thread, ahead of the write.
        ``decoded`` pairs each raw message with its decoding (None: a topic handled here, e.g. dossiers)."""
        p = PreparedWrite(len(decoded))
        readings, last_seen = p.readings, p.last_seen
        for raw, dec in decoded:
            if dec is None:
                p.dossiers.append(raw)
                continue
            if dec.readings:
                readings += dec.readings
                for ts, dev, _m, _v in dec.readings:
                    if ts > last_seen.get(dev, 0.0):
                        last_seen[dev] = ts
            if dec.rejects:
                p.letters.append(letter_for(raw, dec))
            if dec.status is not None:
                p.statuses.append(dec.status)
            p.events += dec.events
        p.rows = self.store.prepare(readings)
        p.feed = _feed_entries(readings)
        return p

    def write(self, conn: Conn, decoded: Sequence[tuple[RawMessage, Decoded | None]],
              prepared: PreparedWrite | None = None) -> BatchResult:
        """Write the batch in one transaction; ``prepared`` is ``prepare(decoded)`` when done ahead."""
        p = prepared if prepared is not None else self.prepare(decoded)
        result = BatchResult(messages=p.messages, readings=len(p.readings))
        letters = list(p.letters)
        with conn.transaction():
            refused: list[NewLetter] = []
            if p.dossiers and self.on_dossier_events is not None:  # inside the batch: a refused batch undoes them
                refused = [x for raw in p.dossiers for x in self.on_dossier_events(conn, raw.topic, raw.payload)]
                dead_letters.record(conn, refused, payload_cap=self.cap)  # one-stop-shop systems are not capped
            wr = self.store.write_batch(conn, p.rows if p.rows is not None else p.readings)
            result.stored = wr.inserted
            recorded = self.write_letters(conn, letters)
            result.letters, result.letters_dropped = recorded.stored + len(refused), recorded.dropped
            letters += refused
            record_seen(conn, p.last_seen, min_step_s=self.seen_step_s)
            for st in p.statuses:
                record_status(conn, st.device_id, "online" if st.online else "offline", st.ts)
            for ev in p.events:
                self._event(conn, ev)
            if p.feed is not None:
                emit(conn, "telemetry", {"readings": p.feed[0], "truncated": p.feed[1]})
            for hook in self.hooks:
                try:
                    with conn.transaction():
                        hook.on_batch(conn, p.readings)
                except Exception:  # a broken rule must not lose the readings; it is logged loudly
                    log.exception("inline hook %r failed on a batch of %d readings", hook, len(p.readings))
        for letter in letters:
            for r in letter.reasons:
                result.rejects[r.reason] = result.rejects.get(r.reason, 0) + 1
        return result

    def write_letters(self, conn: Conn, letters: Sequence[NewLetter]) -> dead_letters.Recorded:
        return dead_letters.record(conn, letters, payload_cap=self.cap, cap=self.rate_cap)

    def _event(self, conn: Conn, ev: Any) -> None:
        incident = None
        if self.on_device_event is not None:
            with conn.transaction():
                incident = self.on_device_event(conn, ev)
        emit(
            conn,
            "device_status",
            {
                "device_id": ev.device_id,
                "event": ev.kind,
                "severity": ev.severity,
                "message": ev.message,
                "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ev.ts)),
                "incident_id": incident,
            },
            subject=ev.device_id,
        )


def _feed_entries(readings: list[ReadingRow]) -> tuple[list[list[Any]], bool] | None:
    """The batch's one coalesced telemetry event: the newest value per (device, metric); None without readings."""
    if not readings:
        return None
    newest: dict[tuple[str, str], ReadingRow] = {}
    for r in readings:
        key = (r[1], r[2])
        cur = newest.get(key)
        if cur is None or r[0] >= cur[0]:
            newest[key] = r
    entries = [[d, m, round(t, 3), v] for (d, m), (t, _d, _m, v) in list(newest.items())[:FEED_MAX_ENTRIES]]
    return entries, len(newest) > FEED_MAX_ENTRIES
