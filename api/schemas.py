"""The integrators' JSON Schemas in one place (``ops-center schemas``): device payloads from the decoder's
definitions and the metric catalogue, dossier and petition events, documents, meeting sessions and unit facts from
their feeds' validators. ``docs/schemas/`` holds them as
generated; tests/docs/test_integration_guide.py fails when they differ from what the code generates."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ingest import schema as device_schema
from ingest.catalogue import load_catalogue
from ops_center.dossiers import schema as dossier_schema
from ops_center.petitions import schema as petition_schema
from ops_center.readiness import schema as readiness_schema

RECORDS = {"documents": "document", "meetings": "meeting-session", "facts": "unit-fact"}
"""Readiness feeds and the stem of their schema files."""


def all_schemas(catalogue_file: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """File name → schema."""
    cat = load_catalogue(catalogue_file)
    return {
        "device-telemetry.schema.json": device_schema.telemetry_json(cat),
        "device-telemetry-senml.schema.json": device_schema.senml_pack(cat),
        "device-status.schema.json": device_schema.status(),
        "device-event.schema.json": device_schema.device_event(),
        "dossier-event.schema.json": dossier_schema.event_schema(),
        "dossier-events-http.schema.json": dossier_schema.batch_schema(),
        "dossier-events-mqtt.schema.json": dossier_schema.batch_schema(unit_from_topic=True),
        "petition-event.schema.json": petition_schema.event_schema(),
        "petition-events-http.schema.json": petition_schema.batch_schema(),
        "petition-events-mqtt.schema.json": petition_schema.batch_schema(unit_from_topic=True),
        **{f"{name}.schema.json": readiness_schema.record_schema(feed) for feed, name in RECORDS.items()},
        **{f"{name}s-http.schema.json": readiness_schema.batch_schema(feed) for feed, name in RECORDS.items()},
        **{f"{name}s-mqtt.schema.json": readiness_schema.batch_schema(feed, unit_from_topic=True)
           for feed, name in RECORDS.items() if feed != "facts"},
    }


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, ensure_ascii=False, indent=2) + "\n"


def _run(args: argparse.Namespace) -> int:
    schemas = all_schemas(args.catalogue)
    if args.out is None:
        print(json.dumps(schemas, ensure_ascii=False, indent=2))
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, schema in schemas.items():
        (args.out / name).write_text(render(schema), encoding="utf-8")
    print(f"wrote {len(schemas)} schemas to {args.out}", file=sys.stderr)
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("schemas", help="print (or write) the JSON Schemas of the integrators' payloads (devices, e-government feeds)")
    p.add_argument("--out", type=Path, default=None, help="write one file per schema into this folder")
    p.add_argument("--catalogue", default=None, help="metric catalogue file (default: the built-in one)")
    p.set_defaults(func=_run)
