"""The dossier-event JSON Schema (generated from ``ops_center.dossiers.models``) agrees with the validator, as a
validator someone else wrote (``jsonschema``) sees it; the OpenAPI request body of ``POST /dossiers/events`` is it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from ops_center.dossiers.models import FIELDS, Rejected, parse_event
from ops_center.dossiers.schema import FIELD_SCHEMAS, batch_schema, event_schema

NOW = datetime(2025, 8, 1, tzinfo=UTC)
GOOD = [
    {"dossier_id": "000.00.12.H12-250102-0001", "type": "received", "at": "2025-01-02T08:30:00+07:00",
     "channel": "online_l4", "procedure": "1.004227", "unit": "UBND-XA-TANTHANH", "ward": "32002"},
    {"dossier_id": "H12/2025:7", "type": "received", "at": "2025-01-02T01:30:00Z", "channel": "postal",
     "procedure": "P-1", "unit": "U1", "ward": "31999", "ward_set": "camau-2019"},
    {"dossier_id": "H12-1", "type": "resolved", "at": "2025-01-06T16:00:00+07:00"},
    {"dossier_id": "H12-1", "type": "resolved", "at": "2025-01-06T16:00:00.5+07:00", "unit": "U1"},
    {"dossier_id": "H12-1", "type": "returned", "at": "2025-01-07T09:00:00+07:00", "channel": "postal"},
]
BAD = [
    {"dossier_id": "H-1", "type": "received", "at": "2025-01-02T08:30:00+07:00", "channel": "online_l4",
     "procedure": "P"},  # no unit
    {"dossier_id": "H-1", "type": "received", "at": "2025-01-02T08:30:00+07:00", "channel": "fax",
     "procedure": "P", "unit": "U"},
    {"dossier_id": "H-1", "type": "returned", "at": "2025-01-07T09:00:00+07:00", "channel": "online_l4"},
    {"dossier_id": "H-1", "type": "resolved", "at": "2025-01-06T16:00:00"},  # no offset
    {"dossier_id": "H-1", "type": "resolved", "at": 1736150400},
    {"dossier_id": "H 1", "type": "resolved", "at": "2025-01-06T16:00:00+07:00"},
    {"dossier_id": "H-1", "type": "closed", "at": "2025-01-06T16:00:00+07:00"},
    {"dossier_id": "H-1", "type": "resolved", "at": "2025-01-06T16:00:00+07:00", "chanel": "postal"},
    {"dossier_id": "H-1", "type": "resolved", "at": "2025-01-06T16:00:00+07:00", "unit": "U\u0000"},
    {"type": "resolved", "at": "2025-01-06T16:00:00+07:00"},
    ["not", "an", "object"],
]


def test_every_field_is_documented() -> None:
    fields = {f for names in FIELDS.values() for f in names}
    assert fields <= set(FIELD_SCHEMAS), f"document these fields in FIELD_SCHEMAS: {fields - set(FIELD_SCHEMAS)}"


def test_schema_is_valid_json_schema() -> None:
    Draft202012Validator.check_schema(event_schema())
    Draft202012Validator.check_schema(batch_schema())
    Draft202012Validator.check_schema(batch_schema(unit_from_topic=True))


@pytest.mark.parametrize("event", GOOD)
def test_what_the_validator_accepts_the_schema_accepts(event) -> None:  # type: ignore[no-untyped-def]
    parse_event(event, now=NOW)
    Draft202012Validator(event_schema()).validate(event)


@pytest.mark.parametrize("event", BAD)
def test_what_the_validator_refuses_the_schema_refuses(event) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Rejected):
        parse_event(event, now=NOW)
    assert not Draft202012Validator(event_schema()).is_valid(event)


def test_topic_variant_and_batches() -> None:
    no_unit = {"dossier_id": "H-1", "type": "received", "at": "2025-01-02T08:30:00+07:00", "channel": "counter",
               "procedure": "P"}
    parse_event(no_unit, unit_from_topic="U1", now=NOW)
    assert Draft202012Validator(batch_schema(unit_from_topic=True)).is_valid([no_unit])
    assert not Draft202012Validator(batch_schema()).is_valid([no_unit])
    assert Draft202012Validator(batch_schema()).is_valid({"events": GOOD})
    assert not Draft202012Validator(batch_schema()).is_valid({"events": GOOD, "extra": 1})


def test_openapi_request_body_is_the_schema(client) -> None:  # type: ignore[no-untyped-def]
    doc = client.get("/openapi.json").json()
    op = doc["paths"]["/dossiers/events"]["post"]
    body = op["requestBody"]["content"]["application/json"]["schema"]

    def without_key_rule(schema: Any) -> Any:
        """The document adds ``propertyNames`` (no NUL in keys: api.openapi) to every object schema."""
        if isinstance(schema, dict):
            return {k: without_key_rule(v) for k, v in schema.items() if k != "propertyNames"}
        return [without_key_rule(v) for v in schema] if isinstance(schema, list) else schema

    assert without_key_rule(body) == {k: v for k, v in batch_schema().items() if k != "$schema"}
    assert "IngestOut" in op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
