"""JSON Schema (draft 2020-12) of dossier events, generated from the validator's own definitions in
``ops_center.dossiers.models`` (event types, which fields each type takes and needs, channels, id patterns): the
OpenAPI request body of ``POST /dossiers/events``, the MQTT payload of ``ops/v1/egov/{unit}/dossiers`` and
``docs/integration.md`` all come from here.

A new event field needs its entry in ``FIELD_SCHEMAS`` (tests/dossiers/test_schema.py fails until it has one).
The schema describes the shape; ``parse_event`` also checks what JSON Schema cannot say (``at`` no later than
10 minutes ahead, references to known procedures and units, consistency with earlier events)."""

from __future__ import annotations

from typing import Any, Final

from ops_center.dossiers.models import (
    CODE_RE,
    DOSSIER_ID_RE,
    EVENT_TYPES,
    FIELDS,
    LEGACY_CHANNELS,
    OUTCOMES,
    RATINGS,
    RECEIVE_CHANNELS,
    REQUIRED,
    RETURN_CHANNELS,
    SET_RE,
)
from ops_center.feeds import MAX_BATCH

DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
RFC3339: Final = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$"
Schema = dict[str, Any]


def code_field(pattern: str, description: str) -> Schema:
    """A string matching ``pattern`` (a code or an id) — the e-government feeds' schemas use it too."""
    return {"type": "string", "pattern": f"^{pattern}$", "description": description}


def flag_field(description: str) -> Schema:
    return {"type": "boolean", "description": f"{description} (default false)"}


def time_field(description: str) -> Schema:
    """An ISO 8601 time with a UTC offset (a naive time names no moment and is refused)."""
    return {"type": "string", "pattern": RFC3339, "maxLength": 40,
            "description": f"{description}, ISO 8601 with a UTC offset (e.g. 2025-01-02T08:30:00+07:00)"}


def batch(item: Schema, title: str) -> Schema:
    """A batch of ``item``: a JSON array, or ``{"events": [...]}`` (HTTP: at most 10,000 items and 8 MiB)."""
    item = {k: v for k, v in item.items() if k != "$schema"}
    items = {"type": "array", "items": item, "maxItems": MAX_BATCH}
    return {"$schema": DIALECT, "title": title, "oneOf": [
        items, {"type": "object", "properties": {"events": items}, "required": ["events"],
                "additionalProperties": False}]}


FIELD_SCHEMAS: Final[dict[str, Schema]] = {
    "dossier_id": code_field(DOSSIER_ID_RE.pattern, "the dossier's number in the one-stop-shop system"),
    "type": {"enum": list(EVENT_TYPES)},
    "at": time_field("when it happened"),
    "unit": code_field(CODE_RE.pattern, "code of the receiving unit (GET /units); on MQTT the topic's unit"),
    "channel": {"type": "string", "description": "received: online_partial, online_full (Decree 42/2022; legacy "
                                                 "online_l3 = partial, online_l4 = full), counter or postal; "
                                                 "returned: postal or counter"},
    "procedure": code_field(CODE_RE.pattern, "code of the procedure in the catalogue (GET /procedures)"),
    "ward": code_field(CODE_RE.pattern, "ward code of the applicant (default: the unit's ward)"),
    "ward_set": code_field(SET_RE.pattern, "boundary set of that ward code (default: the set in force that day)"),
    "digitised": flag_field("the dossier's components were digitised at reception"),
    "reused_data": flag_field("a component was reused from digitised data"),
    "from_personal_store": flag_field("a component was taken from the citizen's personal store on the national portal"),
    "population_data": flag_field("the account was verified with VNeID / population data was used"),
    "fee_due": flag_field("the procedure charges this dossier a fee"),
    "outcome": {"enum": list(OUTCOMES), "description": "how processing ended (default granted); refused and "
                                                       "withdrawn end a dossier without resolving it"},
    "electronic_result": flag_field("an electronic result file was issued"),
    "rating": {"enum": list(RATINGS), "description": "the citizen's rating"},
}
CHANNELS: Final = {"received": [*RECEIVE_CHANNELS, *LEGACY_CHANNELS], "returned": list(RETURN_CHANNELS)}


def typed_events(title: str, kinds: tuple[str, ...], fields: dict[str, tuple[str, ...]],
                 required: dict[str, tuple[str, ...]], field_schemas: dict[str, Schema], *,
                 unit_from_topic: bool = False, per_kind: dict[str, dict[str, Schema]] | None = None) -> Schema:
    """An event of a feed whose events have a ``type`` (dossiers, petitions): one variant per type, each with
    exactly its fields (anything else is refused); ``per_kind`` narrows a field for a type (field → type →
    extra keywords); on MQTT (``unit_from_topic``) the unit comes from the topic and is not required."""
    variants = []
    for kind in kinds:
        props: dict[str, Schema] = {}
        for name in fields[kind]:
            props[name] = {"const": kind} if name == "type" else {**field_schemas[name],
                                                                   **(per_kind or {}).get(name, {}).get(kind, {})}
        needed = [f for f in required[kind] if not (unit_from_topic and f == "unit")]
        variants.append({"title": f"{kind} event", "type": "object", "properties": props, "required": needed,
                         "additionalProperties": False})
    return {"$schema": DIALECT, "title": title, "type": "object", "required": ["type"], "oneOf": variants}


def event_schema(*, unit_from_topic: bool = False) -> Schema:
    """One dossier event."""
    return typed_events("Dossier event", EVENT_TYPES, FIELDS, REQUIRED, FIELD_SCHEMAS, unit_from_topic=unit_from_topic,
                        per_kind={"channel": {kind: {"enum": values} for kind, values in CHANNELS.items()}})


def batch_schema(*, unit_from_topic: bool = False) -> Schema:
    """A batch of dossier events (HTTP: at most 10,000 events and 8 MiB)."""
    return batch(event_schema(unit_from_topic=unit_from_topic), "Dossier events (a batch)")
