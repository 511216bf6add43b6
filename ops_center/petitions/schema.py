"""JSON Schema (draft 2020-12) of petition events, generated from ``ops_center.petitions.models`` (types, the
fields each takes and needs, categories, ratings): ``POST /petitions/events``, ``ops/v1/egov/{unit}/petitions``
and ``docs/schemas/``. A new field needs its entry in ``FIELD_SCHEMAS`` (tests/scorecard/test_feed_schemas.py)."""

from __future__ import annotations

from typing import Final

from ops_center.dossiers.models import CODE_RE, DOSSIER_ID_RE, SET_RE
from ops_center.dossiers.schema import Schema, batch, code_field, time_field, typed_events
from ops_center.petitions.models import CATEGORIES, EVENT_TYPES, FIELDS, RATINGS, REQUIRED

FIELD_SCHEMAS: Final[dict[str, Schema]] = {
    "petition_id": code_field(DOSSIER_ID_RE.pattern, "the petition's number in the petition (PAKN) system"),
    "type": {"enum": list(EVENT_TYPES)},
    "at": time_field("when it happened"),
    "unit": code_field(CODE_RE.pattern, "code of the unit that must answer (GET /units); on MQTT the topic's"),
    "ward": code_field(CODE_RE.pattern, "ward code the petition is about"),
    "ward_set": code_field(SET_RE.pattern, "boundary set of that ward code (default: the set in force that day)"),
    "category": {"enum": list(CATEGORIES), "description": "about a regulation or procedure, about an official's "
                                                         "conduct, or other (default other)"},
    "rating": {"enum": list(RATINGS), "description": "the citizen's rating of the answer"},
}


def event_schema(*, unit_from_topic: bool = False) -> Schema:
    """One petition event."""
    return typed_events("Petition event", EVENT_TYPES, FIELDS, REQUIRED, FIELD_SCHEMAS, unit_from_topic=unit_from_topic)


def batch_schema(*, unit_from_topic: bool = False) -> Schema:
    return batch(event_schema(unit_from_topic=unit_from_topic), "Petition events (a batch)")
