"""Optional consumers of a batch, found by name so ingest runs before or without them:
the alert engine's stream rules, incidents from device events, dossier events from the one-stop-shop."""

from __future__ import annotations

import importlib
import logging
from typing import Any

import orjson

from ingest.sink import BatchHook, DeadLetter
from ops_center.db import Conn

log = logging.getLogger("ingest.hooks")


def _load(module: str, attr: str) -> Any | None:
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            return None
        raise
    return getattr(mod, attr, None)


def stream_hooks() -> list[BatchHook]:
    evaluator = _load("alerts.stream", "StreamEvaluator")
    return [evaluator()] if evaluator is not None else []


def device_event_hook() -> Any | None:
    create = _load("ops_center.incidents.service", "from_device_event")
    if create is None:
        return None

    def on_event(conn: Conn, ev: Any) -> Any:
        row = conn.execute("SELECT lon, lat FROM devices WHERE id = %s", (ev.device_id,)).fetchone()
        lon, lat = (row[0], row[1]) if row else (None, None)
        return create(conn, ev.device_id, ev.kind, ev.severity, ev.message, ev.ts, lon, lat)

    return on_event


def dossier_hook() -> Any | None:
    ingest_events = _load("ops_center.dossiers.service", "ingest_events")

    def on_dossiers(conn: Conn, topic: str, payload: bytes) -> list[DeadLetter]:
        if ingest_events is None:
            return [DeadLetter(topic, payload, None, "unsupported_topic", f"topic: {topic!r} has no consumer",
                               "topic", topic)]
        unit = topic.split("/")[3] if topic.count("/") >= 4 else None
        try:
            doc = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            return [DeadLetter(topic, payload, None, "parse_error", f"payload: not JSON ({exc})", "payload", None)]
        events = doc.get("events") if isinstance(doc, dict) else doc
        if not isinstance(events, list):
            return [DeadLetter(topic, payload, None, "bad_shape",
                               "payload: expected a JSON array of dossier events or {\"events\": [...]}",
                               "payload", type(doc).__name__)]
        for ev in events:
            if isinstance(ev, dict) and unit and "unit" not in ev:
                ev["unit"] = unit
        ingest_events(conn, events, f"mqtt:{topic}")  # records its own dead letters for refused events
        return []

    return on_dossiers
