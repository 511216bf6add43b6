"""The business calendar: which days count when a dossier's legal processing time is measured.

A business day is Monday–Friday, not a public holiday, plus any Saturday or Sunday the government declared a working
day in exchange for a compensatory day off. Holidays are the statutory ones of the ``holidays`` package
(``holidays.country_holidays("VN", years=...)``) together with the official public-sector schedule in a YAML file:
the shipped ``data/vn_holidays_extra.yaml`` (Tết, Hùng Kings, compensatory days off and worked Saturdays, 2019–2027)
or the file named by ``Settings.holiday_calendar_file`` (``OPS_HOLIDAY_CALENDAR_FILE``).

Due dates (see ``due_date``): the processing time starts the business day after receipt, so a dossier received on
day D with N processing days is due on the N-th business day after D (N = 0: D itself if it is a business day, else
the next one). A dossier is on time when it is resolved on or before its due date (local calendar dates).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import holidays
import yaml

from ops_center.settings import LOCAL_TZ

DATA_DIR = Path(__file__).parent / "data"
DEFAULT_FILE = DATA_DIR / "vn_holidays_extra.yaml"
FIRST_YEAR, LAST_YEAR = 2010, 2040  # the package's holidays are generated for these years
MAX_BUSINESS_DAYS = 3660  # ten years of business days: a bound for add_business_days


class CalendarError(ValueError):
    """The calendar file is unreadable or malformed; the message names the file, the entry and the value."""


@dataclass(frozen=True)
class YearInfo:
    year: int
    status: str
    source: str
    lunar_new_year: date | None
    hung_kings: date | None


@dataclass(frozen=True)
class BusinessCalendar:
    """An immutable set of days off and extra working days; cheap to query."""

    country: str
    days_off: dict[date, str]  # every non-working weekday (and weekend holidays, for display)
    working_days: dict[date, str]  # weekend days declared working days
    years: dict[int, YearInfo] = field(default_factory=dict)
    source: str = ""

    def is_business_day(self, d: date) -> bool:
        if d in self.working_days:
            return True
        return d.weekday() < 5 and d not in self.days_off

    def next_business_day(self, d: date) -> date:
        """``d`` itself if it is a business day, else the first one after it."""
        for _ in range(MAX_BUSINESS_DAYS):
            if self.is_business_day(d):
                return d
            d += timedelta(days=1)
        raise CalendarError(f"no business day within {MAX_BUSINESS_DAYS} days after {d}")

    def add_business_days(self, start: date, n: int) -> date:
        """The ``n``-th business day after ``start`` (``n = 0``: ``start`` or the next business day)."""
        if n < 0 or n > MAX_BUSINESS_DAYS:
            raise ValueError(f"n: must be between 0 and {MAX_BUSINESS_DAYS}, got {n}")
        if n == 0:
            return self.next_business_day(start)
        d = start
        left = n
        while left:
            d += timedelta(days=1)
            if self.is_business_day(d):
                left -= 1
        return d

    def business_days_between(self, start: date, end: date) -> int:
        """Business days in ``(start, end]`` (negative when ``end`` is before ``start``)."""
        if end < start:
            return -self.business_days_between(end, start)
        count, d = 0, start
        while d < end:
            d += timedelta(days=1)
            count += self.is_business_day(d)
        return count

    def due_date(self, received_at: datetime, processing_days: int) -> date:
        """The due date of a dossier received at ``received_at`` (an aware datetime) with that processing time."""
        return self.add_business_days(local_date(received_at), processing_days)

    def at_risk(self, due: date, today: date) -> bool:
        """Open and due within one business day (today or the next business day), not yet overdue."""
        return today <= due <= self.add_business_days(today, 1)

    def holidays_in(self, year: int) -> list[tuple[date, str]]:
        return sorted((d, n) for d, n in self.days_off.items() if d.year == year)


def local_date(at: datetime) -> date:
    """The Việt Nam calendar date of an aware moment (naive datetimes are refused: they name no moment)."""
    if at.tzinfo is None:
        raise ValueError(f"at: {at.isoformat()} has no timezone offset")
    return at.astimezone(LOCAL_TZ).date()


def _as_date(value: Any, where: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise CalendarError(f"{where}: {value!r} is not a date (YYYY-MM-DD)")


def _entries(raw: Any, where: str) -> dict[date, str]:
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise CalendarError(f"{where}: expected a list of {{date, name}}, got {type(raw).__name__}")
    out: dict[date, str] = {}
    for i, item in enumerate(raw):
        if isinstance(item, dict):
            out[_as_date(item.get("date"), f"{where}[{i}].date")] = str(item.get("name", ""))
        else:
            out[_as_date(item, f"{where}[{i}]")] = ""
    return out


class _TextDates(yaml.SafeLoader):
    """Safe YAML with dates left as text, so a bad date is reported with its entry by ``_as_date``."""


_TextDates.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def parse_calendar(text: str, source: str = "<text>") -> BusinessCalendar:
    """A calendar from the YAML text of an extra-days file (see the shipped file for the format)."""
    try:
        doc = yaml.load(text, Loader=_TextDates)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise CalendarError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise CalendarError(f"{source}: expected a mapping with 'country' and 'years'")
    country = str(doc.get("country", "VN"))
    try:
        language = doc.get("language", "vi" if country == "VN" else None)
        base = holidays.country_holidays(country, years=range(FIRST_YEAR, LAST_YEAR + 1), language=language)
    except NotImplementedError as exc:
        raise CalendarError(f"{source}: country: {country!r} is not known to the holidays package") from exc
    days_off: dict[date, str] = {d: str(n) for d, n in base.items()}
    working: dict[date, str] = {}
    years: dict[int, YearInfo] = {}
    raw_years = doc.get("years") or {}
    if not isinstance(raw_years, dict):
        raise CalendarError(f"{source}: years: expected a mapping year -> entries")
    for key, entry in raw_years.items():
        where = f"{source}: years.{key}"
        try:
            year = int(key)
        except (TypeError, ValueError) as exc:
            raise CalendarError(f"{where}: {key!r} is not a year") from exc
        if not isinstance(entry, dict):
            raise CalendarError(f"{where}: expected a mapping")
        off = _entries(entry.get("days_off"), f"{where}.days_off")
        work = _entries(entry.get("working_days"), f"{where}.working_days")
        for d in work:
            if d.weekday() < 5:
                raise CalendarError(f"{where}.working_days: {d} is a weekday; list only Saturdays/Sundays worked")
        days_off.update(off)
        working.update(work)
        years[year] = YearInfo(
            year=year,
            status=str(entry.get("status", "official")),
            source=str(entry.get("source", "")),
            lunar_new_year=_as_date(entry["lunar_new_year"], f"{where}.lunar_new_year")
            if entry.get("lunar_new_year") else None,
            hung_kings=_as_date(entry["hung_kings"], f"{where}.hung_kings") if entry.get("hung_kings") else None,
        )
    for d in working:
        days_off.pop(d, None)
    return BusinessCalendar(country, days_off, working, years, source)


_cache: dict[str, tuple[float, BusinessCalendar]] = {}
_lock = threading.Lock()


def load_calendar(path: Path | str | None = None) -> BusinessCalendar:
    """The calendar from ``path`` (default: the shipped file); cached per path and reloaded when the file changes."""
    p = Path(path) if path else DEFAULT_FILE
    try:
        mtime = p.stat().st_mtime
    except OSError as exc:
        raise CalendarError(f"holiday calendar file {str(p)!r} cannot be read: {exc.strerror}") from exc
    key = str(p.resolve())
    with _lock:
        hit = _cache.get(key)
        if hit and hit[0] == mtime:
            return hit[1]
    cal = parse_calendar(p.read_text(encoding="utf-8"), str(p))
    with _lock:
        _cache[key] = (mtime, cal)
    return cal


def calendar_for(settings: Any) -> BusinessCalendar:
    """The calendar configured in ``settings`` (``holiday_calendar_file``), or the shipped one."""
    return load_calendar(getattr(settings, "holiday_calendar_file", None))
