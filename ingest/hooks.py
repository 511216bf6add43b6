"""Optional consumers of a batch, found by name so ingest runs before or without them:
the alert engine's stream rules, incidents from device events, dossier events from the one-stop-shop."""

from __future__ import annotations

import importlib
import logging
from typing import Any

import orjson

from ingest.sink import BatchHook
from ops_center.db import Conn
from ops_center.devices.dead_letters import NewLetter, Reason
from ops_center.storable import shown

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
    too_large: type[Exception] = _load("ops_center.dossiers.service", "BatchTooLarge") or LookupError

    def on_dossiers(conn: Conn, topic: str, payload: bytes) -> list[NewLetter]:
        """Whole-message refusals come back as one letter; refused events are recorded by ``ingest_events`` (one
        letter for the message listing them)."""

        def refused(reason: str, detail: str, field: str, value: str | None) -> list[NewLetter]:
            return [NewLetter(topic, payload, None, (Reason(reason, detail, field, value),))]

        if ingest_events is None:
            return refused("unsupported_topic", f"topic: {shown(topic)} has no consumer", "topic", shown(topic))
        unit = topic.split("/")[3] if topic.count("/") >= 4 else None
        try:
            doc = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            return refused("parse_error", f"payload: not JSON ({exc})", "payload", shown(payload[:64]))
        events = doc.get("events") if isinstance(doc, dict) else doc
        if not isinstance(events, list):
            return refused("bad_shape", "payload: expected a JSON array of dossier events or {\"events\": [...]}",
                           "payload", type(doc).__name__)
        for ev in events:
            if isinstance(ev, dict) and unit and "unit" not in ev:
                ev["unit"] = unit
        try:
            ingest_events(conn, events, f"mqtt:{topic}")  # records one letter for its refused events
        except too_large as exc:  # more events than one batch may carry
            return refused("too_many_events", str(exc), "events", str(len(events)))
        return []

    return on_dossiers
