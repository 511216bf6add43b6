"""The snapshot kinds: one ``Producer`` each, registered by the domain that owns the data.

Producers are found through the entry-point group ``ops_center.federation.producers`` (pyproject.toml), so this
package never imports a domain — not even the core ones — and a package above the core (alerts, a scorecard)
plugs its kind in with one small module and one line. ``register`` adds one in-process (tests, plug-ins).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import entry_points
from typing import Literal

from ops_center.db import Conn
from ops_center.federation.wire import Wire

GROUP = "ops_center.federation.producers"
log = logging.getLogger("ops_center.federation")

Build = Callable[[Conn, Sequence[str], datetime], Mapping[str, Wire]]
"""``build(conn, months, now)`` → the data per month ``YYYY-MM`` (a month may be left out: nothing to say)."""


@dataclass(frozen=True)
class Metric:
    """A figure the national screen can colour the map by and rank on: the value at ``path`` in ``data``."""

    key: str
    path: tuple[str, ...]
    label_vi: str
    label_en: str
    unit: Literal["ratio", "count", "points"]
    higher_is_better: bool = True


@dataclass(frozen=True)
class Producer:
    kind: str
    title_vi: str
    title_en: str
    data_model: type[Wire]
    build: Build
    topics: frozenset[str] = frozenset()
    """Event topics whose changes rebuild this kind at once (the rest waits for the schedule)."""
    history: bool = True
    """True: the last ``history_months`` months are (re)built on schedule; False: a state, the current month only."""
    metrics: tuple[Metric, ...] = field(default_factory=tuple)


_extra: dict[str, Producer] = {}
_loaded: dict[str, Producer] | None = None


def register(producer: Producer) -> None:
    """Add (or replace) a kind in this process."""
    _extra[producer.kind] = producer


def unregister(kind: str) -> None:
    _extra.pop(kind, None)


def _load() -> dict[str, Producer]:
    found: dict[str, Producer] = {}
    for ep in entry_points(group=GROUP):
        try:
            obj = ep.load()
        except Exception:  # a producer whose package is absent or broken leaves its kind out, loudly
            log.exception("federation producer %s (%s) failed to load", ep.name, ep.value)
            continue
        if not isinstance(obj, Producer):
            log.error("federation producer %s (%s) is a %s, not a Producer", ep.name, ep.value, type(obj).__name__)
            continue
        found[obj.kind] = obj
    return found


def producers() -> dict[str, Producer]:
    """Every kind known in this process, by name (sorted)."""
    global _loaded
    if _loaded is None:
        _loaded = _load()
    merged = {**_loaded, **_extra}
    return {k: merged[k] for k in sorted(merged)}


def metrics() -> dict[str, tuple[Producer, Metric]]:
    """``kind.key`` → its producer and metric, for every kind."""
    return {f"{p.kind}.{m.key}": (p, m) for p in producers().values() for m in p.metrics}
