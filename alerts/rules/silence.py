"""Province silence rules, pure: which connected provinces have not been heard from for longer than ``factor``
× their publishing schedule (counted from the last contact, or from when their credential was issued)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from alerts.durations import format_duration
from alerts.rules.models import ProvinceSilenceRule


class ProvinceState(Protocol):
    code: str
    name: str
    enabled: bool
    connected: bool
    schedule_s: int
    last_contact_at: datetime | None
    since: datetime


@dataclass(frozen=True)
class Silent:
    code: str
    silent_s: float
    labels: dict[str, Any]
    detail: dict[str, Any]


def silent_provinces(rule: ProvinceSilenceRule, provinces: Iterable[ProvinceState], now: datetime) -> list[Silent]:
    wanted = set(rule.provinces)
    out = []
    for p in provinces:
        if not (p.enabled and p.connected) or (wanted and p.code not in wanted):
            continue
        silent_s = (now - p.since).total_seconds()
        if silent_s > rule.factor * p.schedule_s:
            out.append(Silent(p.code, silent_s, {"level": "province", "province": p.code, "category": "federation"},
                              {"name": p.name, "silent_for": format_duration(round(silent_s)),
                               "schedule": format_duration(p.schedule_s),
                               "last_contact": p.last_contact_at.isoformat() if p.last_contact_at else None}))
    return out
