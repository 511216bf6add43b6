"""What the e-government feeds other than dossiers share (petitions, documents exchanged, meeting sessions, unit
facts): the batch result, the dead letter of a message's refused items (one row per message listing each item's reason, field and value), the
unit named by an MQTT topic ``ops/v1/egov/{unit}/{feed}``, field helpers that refuse what PostgreSQL cannot store.

Validation errors are ``ops_center.dossiers.models.Rejected`` (reason, detail naming field and value), so every
feed reports the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from ops_center.db import Conn
from ops_center.dossiers import refused
from ops_center.dossiers.models import (
    BAD_SHAPE,
    BAD_VALUE,
    FOREIGN_UNIT,
    MISSING_FIELD,
    BatchTooLarge,
    Rejected,
    shown,
)

MAX_BATCH: Final = 10_000
TOPIC_RE: Final = re.compile(r"(?:mqtt:)?ops/v1/egov/([^/]+)/([a-z_]+)")
TEXT_MAX: Final = 500


@dataclass
class FeedResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[tuple[int, str, str]] = field(default_factory=list)  # (index in the batch, reason, detail)

    def as_json(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "duplicates": self.duplicates,
                "rejected": [{"index": i, "reason": r, "detail": d} for i, r, d in self.rejected]}


def check_size(items: list[Any]) -> None:
    if len(items) > MAX_BATCH:
        raise BatchTooLarge(f"events: {len(items)} items in one batch; at most {MAX_BATCH}")


def topic_unit(source: str, feed: str) -> str | None:
    """The unit of an MQTT source ``ops/v1/egov/{unit}/{feed}`` (optionally ``mqtt:``-prefixed), else None."""
    m = TOPIC_RE.fullmatch(source)
    return m.group(1) if m and m.group(2) == feed else None


def dead_letter_topic(source: str) -> str:
    return source.removeprefix("mqtt:")


Dead = list[tuple[int, Any, Rejected]]
"""Refused items of a batch: (index, the item as received, why)."""
T = TypeVar("T")


def parse_items(items: list[Any], parse: Callable[[Any], T]) -> tuple[list[tuple[int, T]], Dead]:
    """Each item parsed, by index; the refused ones with their ``Rejected``: one refused item never stops the
    others."""
    parsed: list[tuple[int, T]] = []
    dead: Dead = []
    for i, raw in enumerate(items):
        try:
            parsed.append((i, parse(raw)))
        except Rejected as r:
            dead.append((i, raw, r))
    return parsed, dead


def write_dead_letters(conn: Conn, source: str, dead: Dead) -> None:
    """ONE dead letter for the message (or request) listing every refused item: see ``ops_center.dossiers.refused``."""
    refused.record(conn, dead_letter_topic(source), sorted(dead, key=lambda d: d[0]))


def as_object(doc: Any, allowed: tuple[str, ...], required: tuple[str, ...], what: str) -> dict[str, Any]:
    """``doc`` as a JSON object with only ``allowed`` keys and every ``required`` one."""
    if not isinstance(doc, dict):
        raise Rejected(BAD_SHAPE, f"{what}: expected a JSON object, got {type(doc).__name__} {shown(doc)}",
                       what, doc)
    for key in doc:
        if key not in allowed:
            raise Rejected(BAD_SHAPE, f"{shown(key)}: unknown field (expected {', '.join(allowed)})",
                           str(key)[:120], key)
    for key in required:
        if doc.get(key) is None:
            raise Rejected(MISSING_FIELD, f"{key}: required field is missing", key)
    return doc


FREE_TEXT_PATTERN: Final = "^[^\\x00-\\x08\\x0b-\\x1f]*$"
"""``text``'s rule as a JSON Schema pattern (control characters but tab and newline refused)."""


def text(doc: dict[str, Any], key: str, limit: int = TEXT_MAX) -> str | None:
    """Free text: a string of at most ``limit`` characters without NUL or other control characters (tab and newline
    allowed) or lone surrogates."""
    value = doc.get(key)
    if value is None:
        return None
    if type(value) is not str or len(value) > limit:
        raise Rejected(BAD_VALUE, f"{key}: expected a text of at most {limit} characters, got {shown(value)}",
                       key, value)
    if any((ord(ch) < 32 and ch not in "\t\n") or 0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        raise Rejected(BAD_VALUE, f"{key}: {shown(value)} contains a control character or a lone surrogate",
                       key, value)
    return value


def whole(doc: dict[str, Any], key: str, lo: int, hi: int) -> int | None:
    value = doc.get(key)
    if value is None:
        return None
    if type(value) is not int or not lo <= value <= hi:
        raise Rejected(BAD_VALUE, f"{key}: expected a whole number from {lo} to {hi}, got {shown(value)}",
                       key, value)
    return value


def same_unit(unit: str | None, from_topic: str | None, key: str = "unit") -> str | None:
    """The unit of an item arriving on a unit's topic: the topic's, and an item naming another is refused."""
    if from_topic is None:
        return unit
    if unit is not None and unit != from_topic:
        raise Rejected(FOREIGN_UNIT, f"{key}: {shown(unit)} differs from the topic's unit {shown(from_topic)}",
                       key, unit)
    return from_topic
