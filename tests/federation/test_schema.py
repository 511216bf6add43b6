"""The snapshot format as JSON Schema: generated from the wire models, a valid draft 2020-12 schema, equal to the
copy in docs/federation.md, and enforced by someone else's validator (``jsonschema``) on what the producers build."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest

from ops_center.federation import periods
from ops_center.federation.schema import embedded, heartbeat_schema, snapshot_schema
from ops_center.federation.wire import SCHEMA_ID, envelope

DOC = Path(__file__).resolve().parents[2] / "docs" / "federation.md"


def test_the_schema_is_valid_and_documented() -> None:
    schema = snapshot_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator.check_schema(heartbeat_schema())
    assert embedded(DOC.read_text(encoding="utf-8")) == schema, (
        "docs/federation.md is out of date: run `ops-center federation schema --write docs/federation.md`")


def example(change: dict[str, object]) -> dict[str, object]:
    env = envelope("96", "device_health", periods.month_of(datetime.now(UTC)), 1, datetime.now(UTC),
                   GOOD["device_health"])
    env.update(change)
    return env


GOOD = {"device_health": {"total": 2, "online": 1, "online_share": 0.5,
                          "kinds": [{"kind": "rain", "total": 2, "enabled": 2, "online": 1, "stale": 0,
                                     "never_seen": 1}]}}


@pytest.mark.parametrize(("change", "ok"), [
    ({}, True),
    ({"schema": SCHEMA_ID + "x"}, False),
    ({"province": "7"}, False),
    ({"period": "2026-1"}, False),
    ({"version": -1}, False),
    ({"kind": "incidents_open"}, False),  # data of another kind
    ({"reporter": "x"}, False),
    ({"data": {**GOOD["device_health"], "device_ids": ["a"]}}, False),
    ({"data": {**GOOD["device_health"], "online_share": 1.5}}, False),
])
def test_the_validator_accepts_snapshots_and_refuses_what_the_format_does_not_allow(change: dict[str, object],
                                                                                    ok: bool) -> None:
    doc = example(change)
    validator = jsonschema.Draft202012Validator(snapshot_schema())
    assert validator.is_valid(doc) is ok, list(validator.iter_errors(doc))[:3]
