"""The consumers of a batch beside the readings store: the alert engine's stream rules, incidents from device
events, and the e-government feeds (dossier events from the one-stop-shop, petitions, documents, meetings)."""

from __future__ import annotations

import logging
from typing import Any

import orjson

from alerts.stream import StreamEvaluator
from ingest.sink import BatchHook
from ops_center.db import Conn
from ops_center.devices import lookups as device_lookups
from ops_center.devices.dead_letters import NewLetter, Reason
from ops_center.dossiers import service as dossiers
from ops_center.dossiers.models import BatchTooLarge
from ops_center.incidents.service import from_device_event
from ops_center.petitions import service as petitions
from ops_center.readiness import exchange
from ops_center.storable import shown

log = logging.getLogger("ingest.hooks")


def stream_hooks() -> list[BatchHook]:
    return [StreamEvaluator()]


def device_event_hook() -> Any | None:
    def on_event(conn: Conn, ev: Any) -> Any:
        lon, lat = device_lookups.position(conn, ev.device_id)
        return from_device_event(conn, ev.device_id, ev.kind, ev.severity, ev.message, ev.ts, lon, lat)

    return on_event


EGOV_FEEDS = ("dossiers", "documents", "meetings", "petitions")
"""The feeds on ``ops/v1/egov/{unit}/{feed}``: dossier events, documents exchanged, meeting sessions, petitions."""


def _egov_consumers() -> dict[str, Any]:
    """feed -> ``fn(conn, items, source)`` of the owning domain. Each records one dead letter per message for the
    items it refuses, and raises ``BatchTooLarge`` for more items than one batch carries."""
    out: dict[str, Any] = {"dossiers": dossiers.ingest_events, "petitions": petitions.ingest_events}
    for feed, spec in exchange.FEEDS.items():
        out[feed] = lambda conn, items, source, spec=spec: exchange.ingest(conn, spec, items, source)
    return out


def dossier_hook() -> Any | None:
    """The consumer of every e-government topic (the name is kept: ``BatchWriter(on_dossier_events=...)``)."""
    consumers = _egov_consumers()

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
        except BatchTooLarge as exc:  # more items than one batch may carry
            return refused("too_many_events", str(exc), "events", str(len(items)))
        return []

    return on_egov
