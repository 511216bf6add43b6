"""JSON Schemas (draft 2020-12) of what devices publish, generated from the decoder's own definitions: the topic
layout (``ingest.topics``), the id, event-kind and severity rules (``ingest.validate``, ``ingest.decode``) and the
metric catalogue (names, units, ranges). ``docs/integration.md`` shows them; ``ops-center schemas`` prints them.

A schema describes the shape; the decoder checks more than JSON Schema can say (timestamps within
``max_age_s`` and at most 5 minutes ahead, SenML base-field resolution, which device may publish what), and
answers every refusal with a reason code (docs/mqtt.md)."""

from __future__ import annotations

from typing import Any, Final

from ingest.catalogue import Catalogue
from ingest.decode import EVENT_KIND_RE, EVENT_MESSAGE_MAX, EVENT_SEVERITIES, SENML_VERSION
from ingest.topics import DEVICES, EVENTS, GATEWAYS, PREFIX, STATUS, TELEMETRY
from ingest.validate import DEVICE_ID_RE

DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
RFC3339: Final = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$"
Schema = dict[str, Any]


def _ts() -> Schema:
    return {"oneOf": [
        {"type": "string", "pattern": RFC3339, "maxLength": 64,
         "description": "ISO 8601 with a UTC offset (Z or +07:00); a time without an offset is refused"},
        {"type": "number", "exclusiveMinimum": 0, "maximum": 1e11,
         "description": "epoch seconds (not milliseconds)"},
    ]}


def _metric_values(catalogue: Catalogue) -> Schema:
    props = {m.name: {"type": "number", "minimum": m.min, "maximum": m.max,
                      "description": f"{m.description} ({m.unit})".strip()} for m in catalogue.values()}
    return {"type": "object", "minProperties": 1, "properties": props, "additionalProperties": False,
            "description": "metric name → value; each metric is checked on its own (a bad one is refused alone)"}


def telemetry_json(catalogue: Catalogue) -> Schema:
    """``ops/v1/devices/{id}/telemetry`` in the JSON form: exactly ``ts`` and ``metrics``."""
    return {"$schema": DIALECT, "title": "Device telemetry (JSON form)", "type": "object",
            "required": ["ts", "metrics"], "additionalProperties": False,
            "properties": {"ts": _ts(), "metrics": _metric_values(catalogue)}}


def senml_pack(catalogue: Catalogue) -> Schema:
    """``ops/v1/devices/{id}/telemetry`` or ``ops/v1/gateways/{id}/telemetry`` as an RFC 8428 SenML JSON pack."""
    names = sorted(catalogue)
    device = DEVICE_ID_RE.pattern
    name_pattern = f"^((urn:dev:)?{device}:)?({'|'.join(names)})$"
    record = {
        "type": "object",
        "properties": {
            "bn": {"type": "string", "description": "base name: urn:dev:{device_id}: or {device_id}:"},
            "bt": {"type": "number", "description": "base time (epoch seconds if ≥ 2^28, else relative to now)"},
            "bu": {"type": "string"}, "bv": {"type": "number"}, "bs": {"type": "number"},
            "bver": {"type": "integer", "minimum": 1, "maximum": SENML_VERSION},
            "n": {"type": "string", "description": f"bn + n must match {name_pattern}"},
            "u": {"type": "string", "description": "the metric's catalogue unit or an accepted spelling of it"},
            "v": {"type": "number"}, "t": {"type": "number"},
            "vs": False, "vb": False, "vd": False,
        },
        "propertyNames": {"not": {"pattern": "_$"}},
        "description": "only numeric values (v) are stored; vs, vb, vd and labels ending in _ are refused",
    }
    return {"$schema": DIALECT, "title": "Device or gateway telemetry (SenML pack, RFC 8428)", "type": "array",
            "minItems": 1, "items": record,
            "x-metrics": {m.name: {"unit": m.unit, "min": m.min, "max": m.max} for m in catalogue.values()}}


def status() -> Schema:
    """``ops/v1/devices/{id}/status`` (retained; the last will says ``offline``): plain text or an object."""
    return {"$schema": DIALECT, "title": "Device status (retained)", "oneOf": [
        {"type": "string", "enum": ["online", "offline"], "description": "the plain payload (not JSON-quoted)"},
        {"type": "object", "required": ["state"], "additionalProperties": False,
         "properties": {"state": {"enum": ["online", "offline"]}}}]}


def device_event() -> Schema:
    """``ops/v1/devices/{id}/events``: one event; a kind that maps to an incident category opens an incident."""
    return {"$schema": DIALECT, "title": "Device event", "type": "object", "required": ["ts", "kind"],
            "additionalProperties": False, "properties": {
                "ts": _ts(),
                "kind": {"type": "string", "pattern": f"^{EVENT_KIND_RE.pattern}$"},
                "severity": {"enum": list(EVENT_SEVERITIES), "default": "info"},
                "message": {"type": "string", "maxLength": EVENT_MESSAGE_MAX},
                "data": {"type": "object", "description": "any JSON object, nested at most 8 levels"}}}


def topics() -> dict[str, str]:
    """Topic → what it carries (the ``{id}`` matches ``DEVICE_ID_RE``)."""
    dev, gw = f"{PREFIX}/{DEVICES}/{{device_id}}", f"{PREFIX}/{GATEWAYS}/{{gateway_id}}"
    return {f"{dev}/{TELEMETRY}": "telemetry (JSON form or SenML pack)", f"{dev}/{STATUS}": "status (retained)",
            f"{dev}/{EVENTS}": "device event", f"{gw}/{TELEMETRY}": "telemetry of the devices behind (SenML)",
            f"{gw}/{STATUS}": "status (retained)"}
