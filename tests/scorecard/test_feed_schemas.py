"""The JSON Schemas of the e-government feeds besides dossiers (petitions, documents, meeting sessions, unit facts),
generated from their validators, agree with them as a validator someone else wrote (``jsonschema``) sees it; every
field is documented; the routes' OpenAPI request bodies are these schemas."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from ops_center.dossiers.models import Rejected
from ops_center.petitions import models as petitions
from ops_center.petitions import schema as petition_schema
from ops_center.readiness import exchange, facts
from ops_center.readiness import schema as readiness_schema

NOW = datetime(2025, 8, 1, tzinfo=UTC)
T = "2025-06-02T09:00:00+07:00"


def _petition(doc: Any) -> None:
    petitions.parse_event(doc, now=NOW)


def _record(feed: str) -> Any:
    return lambda doc: exchange.parse_record(exchange.FEEDS[feed], doc, unit_from_topic=None, now=NOW)


CASES: dict[str, tuple[dict[str, Any], Any, list[Any], list[Any]]] = {
    "petitions": (petition_schema.event_schema(), _petition, [
        {"petition_id": "PAKN-2025-0001", "type": "received", "at": T, "unit": "U1", "category": "procedure"},
        {"petition_id": "PAKN-2025-0001", "type": "received", "at": T, "unit": "U1", "ward": "31999",
         "ward_set": "camau-2019"},
        {"petition_id": "PAKN-2025-0001", "type": "handled", "at": T},
        {"petition_id": "PAKN-2025-0001", "type": "rated", "at": T, "rating": "unsatisfied", "unit": "U1"},
    ], [
        {"petition_id": "PAKN-1", "type": "received", "at": T},  # no unit
        {"petition_id": "PAKN-1", "type": "received", "at": T, "unit": "U1", "category": "roads"},
        {"petition_id": "PAKN-1", "type": "rated", "at": T, "rating": "complaint"},
        {"petition_id": "PAKN-1", "type": "handled", "at": "2025-06-02T09:00:00"},
        {"petition_id": "PAKN 1", "type": "handled", "at": T},
        {"petition_id": "PAKN-1", "type": "handled", "at": T, "rating": "satisfied"},
        {"petition_id": "PAKN-1", "type": "closed", "at": T},
    ]),
    "documents": (readiness_schema.record_schema("documents"), _record("documents"), [
        {"id": "VB-2019-000123", "from_unit": "SO-TP", "to_unit": "UBND-X", "sent_at": T},
        {"id": "VB-2019-000123", "from_unit": "SO-TP", "to_unit": "UBND-X", "sent_at": T, "received_at": T,
         "via_axis": True},
    ], [
        {"id": "VB-1", "from_unit": "SO-TP", "sent_at": T},
        {"id": "VB-1", "from_unit": "SO-TP", "to_unit": "U", "sent_at": T, "via_axis": "yes"},
        {"id": "VB-1", "from_unit": "SO TP", "to_unit": "U", "sent_at": T},
        {"id": "VB-1", "from_unit": "SO-TP", "to_unit": "U", "sent_at": T, "subject": "x"},
    ]),
    "meetings": (readiness_schema.record_schema("meetings"), _record("meetings"), [
        {"id": "HOP-2019-0042", "unit": "UBND-H", "started_at": T},
        {"id": "HOP-2019-0042", "unit": "UBND-H", "started_at": T, "ended_at": T, "participants": 12,
         "title": "Giao ban tháng 12"},
    ], [
        {"id": "HOP-1", "started_at": T},
        {"id": "HOP-1", "unit": "U", "started_at": T, "participants": -1},
        {"id": "HOP-1", "unit": "U", "started_at": T, "participants": 1.5},
        {"id": "HOP-1", "unit": "U", "started_at": T, "title": "x" * 501},
    ]),
    "facts": (readiness_schema.record_schema("facts"), facts.parse_fact, [
        {"unit": "SO-TP", "fact": "iso_9001", "since": "2019-03-01"},
        {"unit": "SO-TP", "fact": "exists", "since": "2025-07-01", "value": False, "note": "sáp nhập"},
    ], [
        {"unit": "SO-TP", "fact": "iso9001", "since": "2019-03-01"},
        {"unit": "SO-TP", "fact": "iso_9001", "since": "01/03/2019"},
        {"unit": "SO-TP", "fact": "iso_9001", "since": "2019-03-01", "value": "true"},
        {"fact": "iso_9001", "since": "2019-03-01"},
    ]),
}


def test_every_field_is_documented() -> None:
    fields = {f for names in petitions.FIELDS.values() for f in names}
    assert fields <= set(petition_schema.FIELD_SCHEMAS)
    for feed, keys in (*exchange.INPUT_KEYS.items(), ("facts", facts.FIELDS)):
        assert set(keys) <= set(readiness_schema.FIELD_SCHEMAS[feed]), feed


@pytest.mark.parametrize("feed", list(CASES))
def test_the_schemas_agree_with_the_validators(feed: str) -> None:
    schema, parse, good, bad = CASES[feed]
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    for doc in good:
        parse(doc)
        validator.validate(doc)
    for doc in bad:
        with pytest.raises(Rejected):
            parse(doc)
        assert not validator.is_valid(doc), doc


def test_batches_and_the_openapi_request_bodies(client) -> None:  # type: ignore[no-untyped-def]
    paths = client.get("/openapi.json").json()["paths"]
    for path, batch in (("/petitions/events", petition_schema.batch_schema()),
                        ("/egov/documents", readiness_schema.batch_schema("documents")),
                        ("/egov/meetings", readiness_schema.batch_schema("meetings")),
                        ("/readiness/facts", readiness_schema.batch_schema("facts"))):
        Draft202012Validator.check_schema(batch)
        body = paths[path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert body == {k: v for k, v in batch.items() if k != "$schema"}
    mqtt = Draft202012Validator(readiness_schema.batch_schema("meetings", unit_from_topic=True))
    assert mqtt.is_valid([{"id": "HOP-1", "started_at": T}])  # on MQTT the unit is the topic's
    assert not Draft202012Validator(readiness_schema.batch_schema("meetings")).is_valid([{"id": "HOP-1",
                                                                                          "started_at": T}])
