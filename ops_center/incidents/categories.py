"""Incident categories: data, not code. Each has Vietnamese and English labels, a default severity, an SLA in hours
and the device event kinds that open it. The migration seeds ten; ``ops-center incidents categories load FILE``
and ``PUT /incidents/categories/{code}`` change them."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ops_center.db import Conn, fetch_all, fetch_one
from ops_center.incidents.models import SEVERITIES, IncidentError
from ops_center.storable import shown as storable_shown
from ops_center.storable import text_problem

CODE_RE = re.compile(r"[a-z][a-z0-9_]{0,39}")
KIND_RE = re.compile(r"[a-z][a-z0-9_.-]{0,63}")


@dataclass(frozen=True)
class Category:
    code: str
    label_vi: str
    label_en: str
    default_severity: str
    sla_hours: int
    device_kinds: list[str] = field(default_factory=list)
    description: str = ""
    sort_order: int = 100
    enabled: bool = True

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


_COLS = "code, label_vi, label_en, default_severity, sla_hours, device_kinds, description, sort_order, enabled"


def validate(raw: Any, where: str = "category") -> Category:
    if not isinstance(raw, dict):
        raise IncidentError(f"{where}: expected an object, got {type(raw).__name__}")
    known = set(_COLS.split(", "))
    for key in raw:
        if key not in known:
            raise IncidentError(f"{where}.{key}: unknown field (expected {', '.join(sorted(known))})")
    code = raw.get("code")
    if not isinstance(code, str) or not CODE_RE.fullmatch(code):
        raise IncidentError(f"{where}.code: {code!r} must match {CODE_RE.pattern}")
    for key in ("label_vi", "label_en"):
        v = raw.get(key)
        if not isinstance(v, str) or not 1 <= len(v.strip()) <= 200:
            raise IncidentError(f"{where}.{key}: {v!r} must be a text of 1 to 200 characters")
    sev = raw.get("default_severity")
    if sev not in SEVERITIES:
        raise IncidentError(f"{where}.default_severity: {sev!r} is not one of {', '.join(SEVERITIES)}")
    sla = raw.get("sla_hours")
    if type(sla) is not int or not 1 <= sla <= 8760:
        raise IncidentError(f"{where}.sla_hours: {sla!r} must be a whole number of hours from 1 to 8760")
    kinds = raw.get("device_kinds", []) or []
    if not isinstance(kinds, list) or len(kinds) > 50 or not all(
            isinstance(k, str) and KIND_RE.fullmatch(k) for k in kinds):
        raise IncidentError(f"{where}.device_kinds: {kinds!r} must be a list of at most 50 event kinds "
                            f"matching {KIND_RE.pattern}")
    desc = raw.get("description", "") or ""
    if not isinstance(desc, str) or len(desc) > 1000:
        raise IncidentError(f"{where}.description: must be a text of at most 1000 characters")
    order = raw.get("sort_order", 100)
    if type(order) is not int or not -10**6 <= order <= 10**6:
        raise IncidentError(f"{where}.sort_order: {order!r} must be a whole number")
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise IncidentError(f"{where}.enabled: {enabled!r} must be true or false")
    for key in ("label_vi", "label_en", "description"):
        why = text_problem(raw.get(key) or "")
        if why is not None:
            raise IncidentError(f"{where}.{key}: value {storable_shown(raw[key])} {why}")
    return Category(code, raw["label_vi"].strip(), raw["label_en"].strip(), sev, sla, list(kinds), desc, order,
                    enabled)


def list_categories(conn: Conn, include_disabled: bool = False) -> list[Category]:
    where = "" if include_disabled else " WHERE enabled"
    return [Category(**r) for r in fetch_all(conn, f"SELECT {_COLS} FROM incident_categories{where} "
                                                   "ORDER BY sort_order, code")]


def get_category(conn: Conn, code: str) -> Category | None:
    row = fetch_one(conn, f"SELECT {_COLS} FROM incident_categories WHERE code = %s", (code,))
    return Category(**row) if row else None


def upsert(conn: Conn, cats: list[Category]) -> int:
    with conn.cursor() as cur:
        cur.executemany(
            f"INSERT INTO incident_categories ({_COLS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (code) DO UPDATE SET label_vi = EXCLUDED.label_vi, label_en = EXCLUDED.label_en, "
            "default_severity = EXCLUDED.default_severity, sla_hours = EXCLUDED.sla_hours, "
            "device_kinds = EXCLUDED.device_kinds, description = EXCLUDED.description, "
            "sort_order = EXCLUDED.sort_order, enabled = EXCLUDED.enabled, updated_at = now()",
            [(c.code, c.label_vi, c.label_en, c.default_severity, c.sla_hours, c.device_kinds, c.description,
              c.sort_order, c.enabled) for c in cats],
        )
    return len(cats)


def for_device_kind(conn: Conn, kind: str) -> Category | None:
    """The enabled category whose ``device_kinds`` holds ``kind`` or its first dotted segment (``flood.detected``
    → ``flood``); an exact match wins."""
    head = kind.split(".", 1)[0]
    row = fetch_one(conn, f"SELECT {_COLS} FROM incident_categories WHERE enabled AND "
                          "(%s = ANY(device_kinds) OR %s = ANY(device_kinds)) "
                          "ORDER BY (%s = ANY(device_kinds)) DESC, sort_order, code LIMIT 1", (kind, head, kind))
    return Category(**row) if row else None


def read_file(path: Path | str) -> list[Category]:
    """Categories from a YAML file: a list, or ``{categories: [...]}``."""
    p = Path(path)
    doc = yaml.safe_load(p.read_text(encoding="utf-8"))
    items = doc.get("categories") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise IncidentError(f"{p}: expected a list of categories")
    return [validate(item, f"{p.name}[{i}]") for i, item in enumerate(items)]
