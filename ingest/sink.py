"""Write one batch of decoded messages in ONE transaction: readings (idempotent), dead letters, last_seen, device
status, device events, a coalesced live-feed event, and the inline alert rules. The caller acks the batch's
messages only after this commits."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ingest.decode import Decoded, Reading
from ingest.validate import Reject
from ops_center.db import Conn
from ops_center.devices.service import record_seen, record_status
from ops_center.events import emit
from ops_center.readings import ReadingsStore

log = logging.getLogger("ingest.sink")
FEED_MAX_ENTRIES = 2000


class BatchHook(Protocol):
    """Inline consumers of a batch (the alert engine's stream rules): called inside the batch's transaction."""

    def on_batch(self, conn: Conn, rows: list[Reading]) -> int: ...


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


@dataclass
class DeadLetter:
    topic: str
    payload: bytes
    device_id: str | None
    reason: str
    detail: str
    field: str | None
    value: str | None


def dead_letters_from(topic: str, payload: bytes, rejects: Sequence[Reject]) -> list[DeadLetter]:
    return [
        DeadLetter(topic, payload, r.device_id, r.reason_code, r.detail, r.field, r.value_repr)
        for r in rejects
    ]


def write_dead_letters(conn: Conn, letters: Sequence[DeadLetter], cap: int) -> None:
    if not letters:
        return
    conn.execute(
        "INSERT INTO dead_letters (topic, payload, payload_size, device_id, reason, detail, field, value) "
        "SELECT * FROM unnest(%s::text[], %s::bytea[], %s::int[], %s::text[], %s::text[], %s::text[], %s::text[],"
        " %s::text[])",
        (
            [d.topic[:1024] for d in letters],
            [d.payload[:cap] for d in letters],
            [len(d.payload) for d in letters],
            [d.device_id for d in letters],
            [d.reason for d in letters],
            [d.detail[:2000] for d in letters],
            [d.field[:256] if d.field else None for d in letters],
            [d.value[:512] if d.value else None for d in letters],
        ),
    )


class BatchWriter:
    def __init__(
        self,
        store: ReadingsStore,
        *,
        dead_letter_cap: int,
        hooks: Sequence[BatchHook] = (),
        on_device_event: Callable[[Conn, Any], Any] | None = None,
        on_dossier_events: Callable[[Conn, str, bytes], list[DeadLetter]] | None = None,
        seen_step_s: float = 5.0,
    ) -> None:
        """``seen_step_s``: ``last_seen`` moves only when it advances by more than this (each row write costs
        ~30 µs; staleness is judged in minutes)."""
        self.store = store
        self.seen_step_s = seen_step_s
        self.cap = dead_letter_cap
        self.hooks = list(hooks)
        self.on_device_event = on_device_event
        self.on_dossier_events = on_dossier_events

    def write(self, conn: Conn, decoded: Sequence[tuple[RawMessage, Decoded | None]]) -> BatchResult:
        """``decoded`` pairs each raw message with its decoding (None: a topic handled here, e.g. dossiers)."""
        result = BatchResult(messages=len(decoded))
        readings: list[Reading] = []
        letters: list[DeadLetter] = []
        last_seen: dict[str, float] = {}
        statuses = []
        events = []
        for raw, dec in decoded:
            if dec is None:
                if self.on_dossier_events is not None:
                    letters += self.on_dossier_events(conn, raw.topic, raw.payload)
                continue
            if dec.readings:
                readings += dec.readings
                for ts, dev, _m, _v in dec.readings:
                    if ts > last_seen.get(dev, 0.0):
                        last_seen[dev] = ts
            if dec.rejects:
                letters += dead_letters_from(raw.topic, raw.payload, dec.rejects)
            if dec.status is not None:
                statuses.append(dec.status)
            events += dec.events
        result.readings = len(readings)
        with conn.transaction():
            wr = self.store.write_batch(conn, readings)
            result.stored = wr.inserted
            write_dead_letters(conn, letters, self.cap)
            record_seen(conn, last_seen, min_step_s=self.seen_step_s)
            for st in statuses:
                record_status(conn, st.device_id, "online" if st.online else "offline", st.ts)
            for ev in events:
                self._event(conn, ev)
            if readings:
                self._feed(conn, readings)
            for hook in self.hooks:
                try:
                    with conn.transaction():
                        hook.on_batch(conn, readings)
                except Exception:  # a broken rule must not lose the readings; it is logged loudly
                    log.exception("inline hook %r failed on a batch of %d readings", hook, len(readings))
        for d in letters:
            result.rejects[d.reason] = result.rejects.get(d.reason, 0) + 1
        return result

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

    @staticmethod
    def _feed(conn: Conn, readings: list[Reading]) -> None:
        """One coalesced telemetry event per batch: the newest value per (device, metric)."""
        newest: dict[tuple[str, str], Reading] = {}
        for r in readings:
            key = (r[1], r[2])
            cur = newest.get(key)
            if cur is None or r[0] >= cur[0]:
                newest[key] = r
        entries = [
            [d, m, round(t, 3), v] for (d, m), (t, _d, _m, v) in list(newest.items())[:FEED_MAX_ENTRIES]
        ]
        emit(conn, "telemetry", {"readings": entries, "truncated": len(newest) > FEED_MAX_ENTRIES})
