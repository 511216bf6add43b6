"""Petition events: their shape and validation. Pure.

    {"petition_id": "PAKN-2025-0001", "type": "received", "at": "2025-03-03T09:00:00+07:00",
     "unit": "UBND-XA-TANTHANH", "category": "procedure"}
    {"petition_id": "PAKN-2025-0001", "type": "handled", "at": "2025-03-12T15:00:00+07:00"}
    {"petition_id": "PAKN-2025-0001", "type": "rated", "at": "2025-03-13T08:00:00+07:00", "rating": "satisfied"}

- all: ``petition_id`` (like a dossier id), ``type`` (received | handled | rated), ``at`` (ISO 8601 with an offset),
  optional ``unit``.
- received: ``unit`` (required: the unit that must answer), optional ``ward``, ``ward_set`` (as for dossiers) and
  ``category`` (procedure | staff | other: about a regulation or procedure, about an official's conduct, other;
  default other).
- handled: the answer was given (the petition ends).
- rated: ``rating`` (satisfied | unsatisfied).

On ``ops/v1/egov/{unit}/petitions`` the unit comes from the topic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from ops_center.dossiers.models import (
    BAD_VALUE,
    CODE_RE,
    DOSSIER_ID_RE,
    MISSING_FIELD,
    SET_RE,
    Rejected,
    parse_time,
    shown,
    string_field,
)
from ops_center.feeds import as_object, same_unit

EVENT_TYPES: Final = ("received", "handled", "rated")
CATEGORIES: Final = ("procedure", "staff", "other")
RATINGS: Final = ("satisfied", "unsatisfied")
HANDLING_DAYS: Final = 15
"""Business days to handle a petition (the national service index's indicator 5.1; the definition file repeats it
and its loader checks the two agree)."""
HTTP_SOURCE: Final = "http:/petitions/events"
COMMON: Final = ("petition_id", "type", "at", "unit")
FIELDS: Final = {"received": (*COMMON, "ward", "ward_set", "category"), "handled": COMMON,
                 "rated": (*COMMON, "rating")}
REQUIRED: Final = {"received": ("petition_id", "type", "at", "unit"), "handled": ("petition_id", "type", "at"),
                   "rated": ("petition_id", "type", "at", "rating")}


@dataclass(frozen=True, slots=True)
class PetitionEvent:
    petition_id: str
    type: str
    at: datetime
    unit: str | None = None
    ward: str | None = None
    ward_set: str | None = None
    category: str | None = None
    rating: str | None = None


def parse_event(doc: Any, *, unit_from_topic: str | None = None, now: datetime | None = None) -> PetitionEvent:
    """A validated event, or ``Rejected`` naming the first bad field and its value."""
    now = now or datetime.now(UTC)
    kind = doc.get("type") if isinstance(doc, dict) else None
    if isinstance(doc, dict):
        if kind is None:
            raise Rejected(MISSING_FIELD, f"type: required field is missing ({', '.join(EVENT_TYPES)})", "type")
        if type(kind) is not str or kind not in EVENT_TYPES:
            raise Rejected(BAD_VALUE, f"type: {shown(kind)} is not one of {', '.join(EVENT_TYPES)}", "type", kind)
    fields = FIELDS.get(str(kind), COMMON)
    required = REQUIRED.get(str(kind), ())
    if unit_from_topic is not None:
        required = tuple(k for k in required if k != "unit")
    doc = as_object(doc, fields, required, "event")
    petition_id = string_field(doc, "petition_id", DOSSIER_ID_RE)
    assert petition_id is not None
    unit = same_unit(string_field(doc, "unit", CODE_RE), unit_from_topic)
    return PetitionEvent(
        petition_id=petition_id, type=str(kind), at=parse_time(doc["at"], now), unit=unit,
        ward=string_field(doc, "ward", CODE_RE), ward_set=string_field(doc, "ward_set", SET_RE),
        category=(string_field(doc, "category", choices=CATEGORIES) or "other") if kind == "received" else None,
        rating=string_field(doc, "rating", choices=RATINGS),
    )
