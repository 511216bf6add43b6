"""Absence rules, pure: which devices (or device metrics) have been silent for longer than factor × interval, and
which units' e-government feeds have brought nothing for some whole business days."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from alerts.rules.models import AbsenceRule
from ops_center.dossiers.calendar import BusinessCalendar, local_date


@dataclass(frozen=True)
class DeviceRow:
    id: str
    kind: str | None
    ward_code: str | None
    ward_set: str | None
    unit_code: str | None
    expected_interval_s: float
    last_seen: datetime | None
    created_at: datetime | None = None


@dataclass(frozen=True)
class Silent:
    device: DeviceRow
    silent_s: float
    last: datetime | None


def silent_devices(rule: AbsenceRule, devices: Iterable[DeviceRow], now: datetime,
                   latest: Mapping[str, datetime] | None = None) -> list[Silent]:
    """Devices in the rule's scope silent for more than ``factor × expected_interval_s``. Without a metric the
    device's ``last_seen`` counts; with one, ``latest[device_id]`` (that metric's newest reading). A device never
    heard from counts from its registration."""
    out: list[Silent] = []
    for d in devices:
        if not rule.scope.matches(d.id, d.kind, d.ward_code):
            continue
        last = latest.get(d.id) if latest is not None else d.last_seen
        ref = last or d.created_at
        if ref is None:
            continue
        silent = (now - ref).total_seconds()
        if silent > rule.factor * d.expected_interval_s:
            out.append(Silent(d, silent, last))
    return out


@dataclass(frozen=True)
class SilentUnit:
    unit: str
    last: datetime | None  # None: never heard on that feed
    business_days: int | None  # whole business days without anything (None: never heard)


def silent_units(rule: AbsenceRule, last: Mapping[str, datetime], today: date, calendar: BusinessCalendar
                 ) -> list[SilentUnit]:
    """Units whose feed brought nothing for at least ``rule.business_days`` whole business days: the business days
    after the local date of its newest record, up to yesterday (today is not over). A listed unit never heard on the
    feed is silent too; without a list, the units ever heard are watched."""
    assert rule.business_days is not None
    out = []
    for unit in (rule.units or sorted(last)):
        seen = last.get(unit)
        if seen is None:
            out.append(SilentUnit(unit, None, None))
            continue
        quiet = calendar.business_days_between(local_date(seen), today - timedelta(days=1))
        if quiet >= rule.business_days:
            out.append(SilentUnit(unit, seen, quiet))
    return out
