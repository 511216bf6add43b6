"""JSON Schemas (draft 2020-12) of the readiness feeds, generated from their owners' definitions: documents
exchanged and meeting sessions (``ops_center.readiness.exchange``: ``POST /egov/documents|meetings``,
``ops/v1/egov/{unit}/documents|meetings``) and dated unit facts (``ops_center.readiness.facts``:
``POST /readiness/facts``). A new field needs its entry in ``FIELD_SCHEMAS`` (tests/scorecard/test_feed_schemas.py).
They describe the shape; the feeds also check what JSON Schema cannot say (known units, a time no later than
10 minutes ahead, an end not before its start, a unit of the topic's)."""

from __future__ import annotations

from typing import Final

from ops_center.dossiers.models import CODE_RE, DOSSIER_ID_RE
from ops_center.dossiers.schema import DIALECT, Schema, batch, code_field, flag_field, time_field
from ops_center.feeds import FREE_TEXT_PATTERN, TEXT_MAX
from ops_center.readiness.exchange import FEEDS, INPUT_KEYS
from ops_center.readiness.facts import FACTS
from ops_center.readiness.facts import FIELDS as FACT_FIELDS

UNIT: Final = "code of a unit (GET /units)"
FIELD_SCHEMAS: Final[dict[str, dict[str, Schema]]] = {
    "documents": {
        "id": code_field(DOSSIER_ID_RE.pattern, "the document's number in the document system"),
        "from_unit": code_field(CODE_RE.pattern, f"sender: {UNIT}"),
        "to_unit": code_field(CODE_RE.pattern, f"recipient: {UNIT}"),
        "sent_at": time_field("when it was sent"),
        "received_at": time_field("when the recipient received it (may come later, in another message)"),
        "via_axis": flag_field("sent through the document exchange axis (trục liên thông văn bản)"),
    },
    "meetings": {
        "id": code_field(DOSSIER_ID_RE.pattern, "the session's id in the meeting system"),
        "unit": code_field(CODE_RE.pattern, f"the unit holding the session: {UNIT}; on MQTT the topic's"),
        "started_at": time_field("when it started"),
        "ended_at": time_field("when it ended (may come later, in another message)"),
        "participants": {"type": "integer", "minimum": 0, "maximum": 100_000},
        "title": {"type": "string", "maxLength": TEXT_MAX, "pattern": FREE_TEXT_PATTERN,
                  "description": "free text, no control characters"},
    },
    "facts": {
        "unit": code_field(CODE_RE.pattern, UNIT),
        "fact": {"enum": list(FACTS), "description": "iso_9001, meeting_room, document_axis, national_portal, "
                                                     "admin_center, e_certified_copy (indicator 4.3), exists"},
        "since": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$", "description": "the day it holds from"},
        "value": {"type": "boolean", "description": "true: it holds from that day (default); false: it ends"},
        "note": {"type": "string", "maxLength": TEXT_MAX, "pattern": FREE_TEXT_PATTERN},
    },
}
TITLES: Final = {"documents": "Document exchanged", "meetings": "Online meeting session", "facts": "Unit fact"}


def record_schema(feed: str, *, unit_from_topic: bool = False) -> Schema:
    """One item of ``feed`` (documents, meetings or facts)."""
    keys: tuple[str, ...]
    required: tuple[str, ...]
    if feed == "facts":
        keys, required = FACT_FIELDS, ("unit", "fact", "since")
    else:
        keys, required = INPUT_KEYS[feed], FEEDS[feed].required
    if unit_from_topic and feed == "meetings":
        required = tuple(k for k in required if k != "unit")
    return {"$schema": DIALECT, "title": TITLES[feed], "type": "object",
            "properties": {k: FIELD_SCHEMAS[feed][k] for k in keys}, "required": list(required),
            "additionalProperties": False}


def batch_schema(feed: str, *, unit_from_topic: bool = False) -> Schema:
    return batch(record_schema(feed, unit_from_topic=unit_from_topic), f"{TITLES[feed]}s (a batch)")
