"""The business calendar: weekends, Việt Nam's holidays from the `holidays` package, the shipped Tết / Hùng Kings /
compensatory-day file, worked Saturdays, local dates, a configurable file."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import holidays
import pytest

from ops_center.dossiers.calendar import (
    DEFAULT_FILE,
    CalendarError,
    calendar_for,
    load_calendar,
    parse_calendar,
)
from ops_center.settings import Settings

ICT = timezone(timedelta(hours=7))


def at(y: int, m: int, d: int, hh: int = 9) -> datetime:
    return datetime(y, m, d, hh, 0, tzinfo=ICT)


@pytest.fixture(scope="module")
def cal():  # type: ignore[no-untyped-def]
    return load_calendar()


def test_weekends_are_skipped(cal) -> None:  # type: ignore[no-untyped-def]
    assert cal.due_date(at(2025, 3, 7), 1) == date(2025, 3, 10)  # Friday + 1 → Monday
    assert cal.due_date(at(2025, 3, 7), 2) == date(2025, 3, 11)
    assert cal.due_date(at(2025, 3, 8), 1) == date(2025, 3, 10)  # received Saturday: Monday is the first day
    assert cal.due_date(at(2025, 3, 8), 0) == date(2025, 3, 10)  # same-day procedure received on a Saturday
    assert cal.due_date(at(2025, 3, 5), 0) == date(2025, 3, 5)
    assert cal.due_date(at(2025, 3, 3), 10) == date(2025, 3, 17)  # two full weeks


def test_due_dates_across_tet_2025(cal) -> None:  # type: ignore[no-untyped-def]
    # Tết Ất Tỵ: public servants off Saturday 25/01 to Sunday 02/02/2025.
    for d in range(25, 32):
        assert not cal.is_business_day(date(2025, 1, d)), d
    assert not cal.is_business_day(date(2025, 2, 1)) and not cal.is_business_day(date(2025, 2, 2))
    assert cal.is_business_day(date(2025, 1, 24)) and cal.is_business_day(date(2025, 2, 3))
    assert cal.due_date(at(2025, 1, 24), 1) == date(2025, 2, 3)
    assert cal.due_date(at(2025, 1, 24), 3) == date(2025, 2, 5)
    assert cal.due_date(at(2025, 1, 22), 3) == date(2025, 2, 3)  # Thu 23, Fri 24, then Mon 3 Feb
    assert cal.due_date(at(2025, 1, 29), 0) == date(2025, 2, 3)  # received online on mùng 1


def test_due_dates_across_tet_2026(cal) -> None:  # type: ignore[no-untyped-def]
    # Tết Bính Ngọ: off Saturday 14/02 to Sunday 22/02/2026.
    assert [cal.is_business_day(date(2026, 2, d)) for d in range(13, 24)] == [
        True, False, False, False, False, False, False, False, False, False, True]
    assert cal.due_date(at(2026, 2, 13), 2) == date(2026, 2, 24)
    assert cal.due_date(at(2026, 2, 12), 5) == date(2026, 2, 26)  # Fri 13, Mon 23, Tue 24, Wed 25, Thu 26
    assert cal.business_days_between(date(2026, 2, 13), date(2026, 2, 23)) == 1


def test_compensatory_days_and_worked_saturdays(cal) -> None:  # type: ignore[no-untyped-def]
    # 2025: 02/05 off in exchange for Saturday 26/04 worked; 30/04 and 01/05 are holidays.
    assert cal.is_business_day(date(2025, 4, 26))
    assert not cal.is_business_day(date(2025, 5, 2))
    assert cal.due_date(at(2025, 4, 25), 1) == date(2025, 4, 26)
    assert cal.due_date(at(2025, 4, 29), 2) == date(2025, 5, 6)
    # Hùng Kings' day 2025 (Monday 07/04) and 2026 (Sunday 26/04, observed Monday 27/04).
    assert cal.due_date(at(2025, 4, 4), 1) == date(2025, 4, 8)
    assert not cal.is_business_day(date(2026, 4, 27))
    # 2019: 29/04 off, Saturday 04/05 worked; 31/12/2018 off, Saturday 05/01/2019 worked.
    assert cal.is_business_day(date(2019, 5, 4)) and not cal.is_business_day(date(2019, 4, 29))
    assert cal.is_business_day(date(2019, 1, 5))


def test_local_date_decides(cal) -> None:  # type: ignore[no-untyped-def]
    # 18:00 UTC on Friday 24/01/2025 is 01:00 on Saturday in Cà Mau.
    received = datetime(2025, 1, 24, 18, 0, tzinfo=UTC)
    assert cal.due_date(received, 1) == date(2025, 2, 3)
    assert cal.due_date(datetime(2025, 1, 24, 16, 59, tzinfo=UTC), 1) == date(2025, 2, 3)
    with pytest.raises(ValueError, match="no timezone offset"):
        cal.due_date(datetime(2025, 1, 24, 9, 0), 1)


def test_at_risk(cal) -> None:  # type: ignore[no-untyped-def]
    assert cal.at_risk(date(2025, 3, 10), date(2025, 3, 7))  # due Monday, today Friday: one business day left
    assert cal.at_risk(date(2025, 3, 7), date(2025, 3, 7))
    assert not cal.at_risk(date(2025, 3, 11), date(2025, 3, 7))
    assert not cal.at_risk(date(2025, 3, 6), date(2025, 3, 7))  # already overdue


def test_shipped_file_covers_2019_to_2027_and_matches_the_lunar_dates(cal) -> None:  # type: ignore[no-untyped-def]
    assert sorted(cal.years) == list(range(2019, 2028))
    for year, info in cal.years.items():
        base = holidays.country_holidays("VN", years=year)
        assert info.lunar_new_year in base, year
        assert base.get(info.lunar_new_year) in ("Lunar New Year", "Tết Nguyên Đán"), year
        assert info.hung_kings in base, year
        assert info.status in ("official", "estimated")
        assert info.source, year
    assert cal.years[2027].status == "estimated"
    text = DEFAULT_FILE.read_text(encoding="utf-8")
    assert "Tết Bính Ngọ" in text and "Giỗ Tổ Hùng Vương" in text  # Vietnamese kept with diacritics


def test_configurable_file(tmp_path: Path) -> None:
    f = tmp_path / "cal.yaml"
    f.write_text("country: VN\nyears:\n  2025:\n    status: official\n    days_off:\n"
                 "      - {date: 2025-03-10, name: \"Ngày nghỉ riêng của tỉnh\"}\n", encoding="utf-8")
    settings = Settings(env="dev", holiday_calendar_file=f)
    cal = calendar_for(settings)
    assert not cal.is_business_day(date(2025, 3, 10))
    assert cal.due_date(at(2025, 3, 7), 1) == date(2025, 3, 11)
    assert calendar_for(Settings(env="dev")).due_date(at(2025, 3, 7), 1) == date(2025, 3, 10)


@pytest.mark.parametrize(("text", "message"), [
    ("years: [1, 2]", "years: expected a mapping"),
    ("years:\n  2025:\n    days_off:\n      - {date: 2025-13-01}\n", "days_off[0].date"),
    ("years:\n  2025:\n    working_days:\n      - {date: 2025-03-11}\n", "is a weekday"),
    ("years:\n  abc: {}\n", "'abc' is not a year"),
    ("country: XX\n", "'XX' is not known"),
    ("{{{", "not valid YAML"),
    ("- just a list", "expected a mapping"),
])
def test_bad_calendar_files_name_the_entry(text: str, message: str) -> None:
    with pytest.raises(CalendarError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_calendar(text, "test.yaml")


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CalendarError, match="cannot be read"):
        load_calendar(tmp_path / "nope.yaml")
