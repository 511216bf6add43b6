"""Optional consumers of a batch, found by name so ingest runs before or without them:
the alert engine's stream rules, incidents from device events, dossier events from the one-stop-shop."""

from __future__ import annotations

import importlib
import logging
from typing import Any

import orjson

from ingest.sink import BatchHook
from ops_center.db import Conn
from ops_center.devices import lookups as device_lookups
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
        lon, lat = device_lookups.position(conn, ev.device_id)
        return create(conn, ev.device_id, ev.kind, ev.severity, ev.message, ev.ts, lon, lat)

    return on_event


EGOV_FEEDS = ("dossiers", "documents", "meetings", "petitions")
"""The feeds on ``ops/v1/egov/{unit}/{feed}``: dossier events, documents exchanged, meeting sessions, petitions."""


def _egov_consumers() -> dict[str, Any]:
    """feed -> ``fn(conn, items, source)`` of the owning domain (absent domains are left out). Each records one dead
    letter per message for the items it refuses, and raises ``BatchTooLarge`` for more items than one batch carries."""
    out: dict[str, Any] = {}
    for feed, module, attr in (("dossiers", "ops_center.dossiers.service", "ingest_events"),
                               ("petitions", "ops_center.petitions.service", "ingest_events")):
        fn = _load(module, attr)
        if fn is not None:
            out[feed] = fn
    exchange = _load("ops_center.readiness.exchange", "FEEDS")
    ingest = _load("ops_center.readiness.exchange", "ingest")
    if exchange is not None and ingest is not None:
        for feed, spec in exchange.items():
            out[feed] = lambda conn, items, source, spec=spec: ingest(conn, spec, items, source)
    return out


def dossier_hook() -> Any | None:
    """The consumer of every e-government topic (the name is kept: ``BatchWriter(on_dossier_events=...)``)."""
    consumers = _egov_consumers()
    too_large: type[Exception] = _load("ops_center.dossiers.models", "BatchTooLarge") or LookupError

    def on_egov(conn: Conn, topic: str, payload: bytes) -> list[NewLetter]:
        """Whole-message refusals come back as one letter; refused items are recorded by the consumer (one letter
        for the message listing them)."""

        def refused(reason: str, detail: str, field: str, value: str | None) -> list[NewLetter]:
            return [NewLetter(topic, payload, None, (Reason(reason, detail, field, value),))]

        parts = topic.split("/")
        feed = parts[4] if len(parts) == 5 else ""
        consume = consumers.get(feed)
        if consume is None:
            return refused("unsupported_topic", f"topic: {shown(topic)} has no consumer", "topic", shown(topic))
        unit = parts[3]
        try:
            doc = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            return refused("parse_error", f"payload: not JSON ({exc})", "payload", shown(payload[:64]))
        items = doc.get("events") if isinstance(doc, dict) else doc
        if not isinstance(items, list):
            return refused("bad_shape", f"payload: expected a JSON array of {feed} items or {{\"events\": [...]}}",
                           "payload", type(doc).__name__)
        if feed in ("dossiers", "petitions", "meetings"):
            for ev in items:
                if isinstance(ev, dict) and unit and "unit" not in ev:
                    ev["unit"] = unit
        try:
            consume(conn, items, f"mqtt:{topic}")  # records one letter for its refused items
        except too_large as exc:  # more items than one batch may carry
            return refused("too_many_events", str(exc), "events", str(len(items)))
        return []

    return on_egov
