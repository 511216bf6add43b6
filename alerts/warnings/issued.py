"""Warnings issued in a period, for the leaders' view and the daily brief: every warning with a message (Alert,
Update or Cancel) published in [start, end), its state now, and the count per hazard and severity. The rule of
"issued in the period" is ``views.ISSUED_IN_SQL``, the same one ``GET /warnings?issued_from=&issued_to=`` uses."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from alerts.warnings import views
from alerts.warnings.models import Lang
from alerts.warnings.templates import current
from ops_center.db import Conn

PAGE = 500
MAX_WARNINGS = 5000
OTHER_LABEL: dict[Lang, str] = {"vi": "Khác", "en": "Other"}


@dataclass(frozen=True, slots=True)
class IssuedWarning:
    id: int
    hazard: str
    state: str  # active, updated, cancelled, expired (derived now)
    severity: str | None  # of the last published message
    first_sent: datetime | None
    last_sent: datetime | None
    last_type: str | None  # Alert, Update, Cancel
    headline: str  # Vietnamese, of the last published message
    ward_names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class IssuedCount:
    hazard: str
    severity: str
    count: int


@dataclass(frozen=True, slots=True)
class IssuedReport:
    warnings: tuple[IssuedWarning, ...]  # newest first
    counts: tuple[IssuedCount, ...]  # by hazard, then severity (most severe first)
    truncated: bool  # more than MAX_WARNINGS: the list and counts stop there


def hazard_label(hazard: str, lang: Lang = "vi") -> str:
    template = current().hazards.get(hazard)
    return template.label[lang] if template is not None else OTHER_LABEL[lang] if hazard == "other" else hazard


def _row(item: dict[str, Any]) -> IssuedWarning:
    codes: list[str] = item.get("wards") or []
    names: dict[str, str] = item.get("ward_names") or {}
    return IssuedWarning(int(item["id"]), str(item["hazard"]), str(item["state"]), item.get("severity"),
                         item.get("first_sent"), item.get("sent"), item.get("published_type"),
                         str(item.get("published_headline") or ""), tuple(names.get(c, c) for c in codes))


def issued_between(conn: Conn, start: datetime, end: datetime, now: datetime) -> IssuedReport:
    rows: list[IssuedWarning] = []
    before: int | None = None
    more = True
    while more and len(rows) < MAX_WARNINGS:
        items, more = views.list_warnings(conn, now=now, issued=(start, end), before_id=before, limit=PAGE)
        rows.extend(_row(i) for i in items)
        before = items[-1]["id"] if items else None
    order = {s: i for i, s in enumerate(reversed(views.SEVERITY_ORDER))}
    counted = Counter((w.hazard, w.severity or "Unknown") for w in rows)
    counts = tuple(IssuedCount(h, s, n) for (h, s), n in sorted(counted.items(),
                                                                key=lambda kv: (kv[0][0], order.get(kv[0][1], 9))))
    return IssuedReport(tuple(rows[:MAX_WARNINGS]), counts, more)
