"""Registers the summary layers other domains provide (alerts, incidents, dossiers, public warnings) with ``geo.summary``.

Each is looked up by name when the first map summary is asked for; a domain whose module or function does not
exist (yet) is simply absent from the map, and one that fails at run time is reported by the summary as
unavailable (``geo.summary.build`` runs every layer in its own savepoint)."""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from geo.summary import register_layer
from ops_center.db import Conn

log = logging.getLogger("api.map_layers")
_lock = threading.Lock()
_done = False
registered: list[str] = []

ALERT_ZERO = {"critical": 0, "major": 0, "minor": 0, "info": 0, "total": 0}


def _find(module: str, name: str) -> Callable[..., Any] | None:
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        if exc.name is not None and module.startswith(exc.name):
            return None  # the module is not there (yet)
        log.exception("map layer module %s failed to import", module)
        return None
    except Exception:
        log.exception("map layer module %s failed to import", module)
        return None
    fn = getattr(mod, name, None)
    return fn if callable(fn) else None


def _alerts(fn: Callable[..., Mapping[str, Mapping[str, int]]]):  # type: ignore[no-untyped-def]
    def layer(conn: Conn, set_name: str, level: str, start: datetime, end: datetime) -> dict[str, Any]:
        return {code: {"alerts": {**ALERT_ZERO, **dict(v)}} for code, v in fn(conn, set_name, level).items()}
    return layer


def _incidents(fn: Callable[..., Mapping[str, int]]):  # type: ignore[no-untyped-def]
    def layer(conn: Conn, set_name: str, level: str, start: datetime, end: datetime) -> dict[str, Any]:
        return {code: {"incidents_open": int(n)} for code, n in fn(conn, set_name, level).items()}
    return layer


def _dossiers(fn: Callable[..., Mapping[str, float | None]]):  # type: ignore[no-untyped-def]
    def layer(conn: Conn, set_name: str, level: str, start: datetime, end: datetime) -> dict[str, Any]:
        return {code: {"dossier_on_time_rate": None if r is None else float(r)}
                for code, r in fn(conn, set_name, level, start, end).items()}
    return layer


def _warnings(fn: Callable[..., Mapping[str, Mapping[str, Any]]]):  # type: ignore[no-untyped-def]
    def layer(conn: Conn, set_name: str, level: str, start: datetime, end: datetime) -> dict[str, Any]:
        return {code: {"warnings_active": int(v["count"]), "warning_severity": v["severity"],
                       "warning_ids": list(v["warning_ids"])} for code, v in fn(conn, set_name, level).items()}
    return layer


SOURCES: tuple[tuple[str, str, str, Callable[..., Any], dict[str, Any]], ...] = (
    ("alerts", "alerts.service", "active_by_ward", _alerts, {"alerts": ALERT_ZERO}),
    ("incidents", "ops_center.incidents.service", "open_by_ward", _incidents, {"incidents_open": 0}),
    ("dossiers", "ops_center.dossiers.kpis", "on_time_rate_by_ward", _dossiers, {"dossier_on_time_rate": None}),
    ("warnings", "alerts.warnings.views", "active_by_ward", _warnings,
     {"warnings_active": 0, "warning_severity": None, "warning_ids": []}),
)


def ensure_registered() -> list[str]:
    """Register the layers whose functions exist (once per process); returns their names."""
    global _done
    if _done:
        return registered
    with _lock:
        if not _done:
            for name, module, attr, wrap, defaults in SOURCES:
                fn = _find(module, attr)
                if fn is not None:
                    register_layer(name, wrap(fn), defaults=defaults)
                    registered.append(name)
            _done = True
    return registered
