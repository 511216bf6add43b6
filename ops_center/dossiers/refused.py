"""Refused items of the e-government feeds (dossiers, petitions, documents, meetings, unit facts): one dead letter per
message (an HTTP batch or an MQTT message), and their replay — one mechanism for every feed (``FeedTopics`` says
which letters are a feed's; ``ops_center.feed_replay`` names the feeds and how each applies its items again).

The letter of a message lists every refused event (reason, the field as ``[i].field`` with ``i`` the event's index in
the message, the value) and keeps the refused events themselves as its payload: a JSON array, in order, capped at
:data:`PAYLOAD_CAP` bytes (a longer one is kept cut and cannot be replayed). A whole message that could not be read
(not JSON, not a list of events) is a letter whose field is ``body``/``payload`` and whose payload is the message.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from ops_center.db import Conn
from ops_center.devices import dead_letters
from ops_center.devices.dead_letters import NewLetter, Reason
from ops_center.dossiers.models import HTTP_SOURCE, Rejected

PAYLOAD_CAP: Final = 16_384
REPLAY_MAX: Final = 10_000
WHOLE_MESSAGE_FIELDS: Final = frozenset({"body", "payload", "topic", "events"})

Refusal = tuple[int, Any, Rejected]
"""(index of the event in its message, the event as received, why)."""
Ingest = Callable[[Conn, list[Any], str], tuple[dict[int, tuple[str, str]], int]]
"""Apply events from a source without recording refusals: ``({index: (reason, detail)} refused, accepted)``."""


@dataclass(frozen=True)
class FeedTopics:
    """The dead letters of one feed: those of its HTTP source, and of its MQTT topic ``ops/v1/egov/{unit}/{mqtt}``."""

    http: str
    mqtt: str | None = None

    def like(self) -> str | None:
        """The LIKE pattern of the feed's MQTT topics, if it has any."""
        return None if self.mqtt is None else f"ops/v1/egov/%/{self.mqtt}"


DOSSIERS: Final = FeedTopics(HTTP_SOURCE, "dossiers")


def events_json(events: Sequence[Any]) -> bytes:
    """The events as JSON (strings with lone surrogates escaped, anything else not JSON as its text)."""
    try:
        return orjson.dumps(list(events), default=str)
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(list(events), default=str, ensure_ascii=True).encode("ascii")


def letter(topic: str, refused: Sequence[Refusal]) -> NewLetter:
    """The one letter of a message's refused events."""
    reasons = tuple(Reason(r.reason, f"[{i}] {r.detail}", _path(i, r.field), r.value) for i, _, r in refused)
    return NewLetter(topic, events_json([raw for _, raw, _ in refused]), None, reasons)


def _path(i: int, field: str | None) -> str:
    """Where in the message: ``[3].channel``, ``[3]['a\\x00']``, ``[3]`` for the whole event."""
    if not field or field == "event":
        return f"[{i}]"
    return f"[{i}]{field}" if field.startswith("[") else f"[{i}].{field}"


def record(conn: Conn, topic: str, refused: Sequence[Refusal]) -> None:
    if refused:
        dead_letters.record(conn, [letter(topic, refused)], payload_cap=PAYLOAD_CAP)


def record_whole(conn: Conn, topic: str, payload: bytes, reason: str, detail: str, where: str) -> None:
    """A message that could not be read as events at all."""
    dead_letters.record(conn, [NewLetter(topic, payload, None, (Reason(reason, detail, where, None),))],
                        payload_cap=PAYLOAD_CAP)


# ------------------------------------------------------------------------------------------------------------ replay


@dataclass
class ReplayResult:
    replayed: int = 0
    ok: int = 0
    failed: int = 0
    results: list[tuple[int, bool, str]] = field(default_factory=list)  # (dead letter id, ok, result)


@dataclass(slots=True)
class _Letter:
    id: int
    topic: str
    events: list[Any]
    first: int = 0
    """Index of the letter's first event in the replayed batch of its topic."""


def replay(conn: Conn, apply: Ingest, *, feed: FeedTopics = DOSSIERS, ids: list[int] | None = None,
           limit: int = 1000) -> ReplayResult:
    """Re-apply the refused items of the feed's letters not yet replayed successfully (or ``ids`` among them),
    oldest first, in the caller's transaction. A letter is fixed (``replay_ok``) when every item it keeps is now
    accepted or recognised as a duplicate; one still refused says why in ``replay_result``. Whole messages that
    could not be read, and letters whose payload was cut, are not replayable."""
    limit = max(1, min(limit, REPLAY_MAX))
    marks: list[tuple[int, bool, str]] = []
    by_topic: dict[str, list[_Letter]] = {}
    for stored in dead_letters.claim_feed_for_replay(conn, feed.http, feed.like(), ids=ids, limit=limit):
        events = _events(stored.payload, stored.payload_size, stored.field)
        if isinstance(events, str):
            marks.append((stored.id, False, events))
        else:
            by_topic.setdefault(stored.topic, []).append(_Letter(stored.id, stored.topic, events))
    for topic, letters in by_topic.items():
        marks += _replay_topic(conn, apply, topic, letters)
    out = ReplayResult()
    for letter_id, ok, outcome in sorted(marks):
        dead_letters.mark_replayed(conn, letter_id, ok, outcome)
        out.results.append((letter_id, ok, outcome))
        out.replayed += 1
        out.ok += ok
        out.failed += not ok
    return out


def _events(raw: bytes, size: int, fld: str | None) -> list[Any] | str:
    if fld in WHOLE_MESSAGE_FIELDS or size > len(raw):
        return "not replayable: the whole message was refused or only part of it was kept"
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return "not replayable: the stored payload is not JSON"
    return doc if isinstance(doc, list) else [doc]  # letters written before one-row-per-message hold one event


def _replay_topic(conn: Conn, apply: Ingest, topic: str, letters: list[_Letter]) -> list[tuple[int, bool, str]]:
    batch: list[Any] = []
    for x in letters:
        x.first = len(batch)
        batch += x.events
    refused, _ = apply(conn, batch, topic)
    marks = []
    for x in letters:
        still = [(i - x.first, *refused[i]) for i in range(x.first, x.first + len(x.events)) if i in refused]
        if not still:
            marks.append((x.id, True, f"ok: {len(x.events)} item(s) applied (or already there)"))
            continue
        shown = "; ".join(f"{reason}: [{i}] {detail}" for i, reason, detail in still[:3])
        more = f" (+{len(still) - 3} more)" if len(still) > 3 else ""
        marks.append((x.id, False, f"still rejected: {shown}{more}"))
    return marks

