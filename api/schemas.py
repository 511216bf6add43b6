"""The integrators' JSON Schemas in one place (``ops-center schemas``): device payloads from the decoder's
definitions and the metric catalogue, dossier events from the dossier validator. ``docs/schemas/`` holds them as
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
    p = sub.add_parser("schemas", help="print (or write) the JSON Schemas of device and dossier payloads")
    p.add_argument("--out", type=Path, default=None, help="write one file per schema into this folder")
    p.add_argument("--catalogue", default=None, help="metric catalogue file (default: the built-in one)")
    p.set_defaults(func=_run)
