"""Registers the summary layers other domains provide (alerts, incidents, dossiers, public warnings) with ``geo.summary``.

Each is looked up by name when the first map summary is asked for; a domain whose module or function does not
exist (yet) is simply absent from the map, and one that fails at run time is reported by the summary as
unavailable (``geo.summary.build`` runs every layer in its own savepoint)."""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from geo.summary import LayerFn, register_layer
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


def _alerts(fn: Callable[..., Mapping[str, Mapping[str, int]]]) -> LayerFn:
    def layer(conn: Conn, set_name: str, level: str, start: datetime, end: datetime) -> dict[str, Any]:
        return {code: {"alerts": {**ALERT_ZERO, **dict(v)}} for code, v in fn(conn, set_name, level).items()}
    return layer


def _incidents(fn: Callable[..., Mapping[str, int]]) -> LayerFn:
    def layer(conn: Conn, set_name: str, level: str, start: datetime, end: datetime) -> dict[str, Any]:
        return {code: {"incidents_open": int(n)} for code, n in fn(conn, set_name, level).items()}
    return layer


def _dossiers(fn: Callable[..., Mapping[str, float | None]]) -> LayerFn:
    def layer(conn: Conn, set_name: str, level: str, start: datetime, end: datetime) -> dict[str, Any]:
        return {code: {"dossier_on_time_rate": None if r is None else float(r)}
                for code, r in fn(conn, set_name, level, start, end).items()}
    return layer


def _scorecard(fn: Callable[..., Mapping[str, Mapping[str, Any]]]) -> LayerFn:
    """The national service index per ward (or district): the total scaled to 100 and each indicator's ratio
    (``scorecard_total``, ``scorecard_2_1`` … once flattened) over the summary's window, in local dates."""
    from ops_center.dossiers.calendar import calendar_for, local_date
    from ops_center.scorecard.periods import Period
    from ops_center.settings import get_settings

    def layer(conn: Conn, set_name: str, level: str, start: datetime, end: datetime) -> dict[str, Any]:
        window = Period(local_date(start), max(local_date(end - timedelta(microseconds=1)) + timedelta(days=1),
                                               local_date(start) + timedelta(days=1)))
        values = fn(conn, set_name, level, window, calendar_for(get_settings()))
        return {code: {"scorecard": dict(v)} for code, v in values.items()}
    return layer


SCORECARD_ZERO: dict[str, Any] = {"total": None}


def _scorecard_numeric() -> dict[str, str]:
    from ops_center.scorecard.definition import load_definitions

    latest = load_definitions()[-1]
    out = {"scorecard_total": "Chỉ số 766: tổng điểm (thang 100)"}
    for ind in latest.indicators:
        out[f"scorecard_{ind.id.replace('.', '_')}"] = f"Chỉ số 766 — {ind.id} {ind.vi} (tỷ lệ)"
    return out


def _warnings(fn: Callable[..., Mapping[str, Mapping[str, Any]]]) -> LayerFn:
    def layer(conn: Conn, set_name: str, level: str, start: datetime, end: datetime) -> dict[str, Any]:
        return {code: {"warnings_active": int(v["count"]), "warning_severity": v["severity"],
                       "warning_ids": list(v["warning_ids"])} for code, v in fn(conn, set_name, level).items()}
    return layer


SOURCES: tuple[tuple[str, str, str, Callable[..., Any], dict[str, Any]], ...] = (
    ("alerts", "alerts.service", "active_by_ward", _alerts, {"alerts": ALERT_ZERO}),
    ("incidents", "ops_center.incidents.service", "open_by_ward", _incidents, {"incidents_open": 0}),
    ("dossiers", "ops_center.dossiers.kpis", "on_time_rate_by_ward", _dossiers, {"dossier_on_time_rate": None}),
    ("scorecard", "ops_center.scorecard.service", "by_ward", _scorecard, {"scorecard": SCORECARD_ZERO}),
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
                    numeric = _scorecard_numeric() if name == "scorecard" else None
                    register_layer(name, wrap(fn), defaults=defaults, numeric=numeric)
                    registered.append(name)
            _done = True
    return registered
