"""On time or late (2.1): the day a still-open dossier turns late (``late_day``) agrees with judging it at the
close of every day; the issue's readings on supplement time, one case at a time."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone

from ops_center.dossiers.timeliness import close_of, late_day, on_time_at, supplement_time

ICT = timezone(timedelta(hours=7))


def at(m: int, d: int, hh: int = 9) -> datetime:
    return datetime(2025, m, d, hh, tzinfo=ICT)


def test_supplement_time_is_calendar_time_and_runs_while_outstanding() -> None:
    reqs, recs = [at(6, 5, 10)], [at(6, 9, 10)]
    assert supplement_time(reqs, recs, at(6, 12)) == timedelta(days=4)
    assert supplement_time(reqs, [], at(6, 7, 10)) == timedelta(days=2)  # still outstanding
    assert supplement_time(reqs, recs, at(6, 4)) == timedelta(0)  # asked after the end


def test_on_time_readings() -> None:
    due = date(2025, 6, 10)
    assert on_time_at(due, [at(6, 5, 10)], [at(6, 9, 10)], at(6, 12, 10))  # 06-12 minus 4 days = 06-08
    assert not on_time_at(due, [at(6, 5, 10)], [at(6, 6, 10)], at(6, 12, 10))  # minus 1 day = 06-11
    assert not on_time_at(due, [at(6, 4), at(6, 6)], [at(6, 5), at(6, 7)], at(6, 8))  # two requests: late
    assert on_time_at(due, [at(6, 4), at(6, 20)], [at(6, 5)], at(6, 8))  # the second came after the end
    assert on_time_at(due, [at(6, 9)], [], close_of(date(2025, 7, 31)))  # the clock stands at the request
    assert on_time_at(due, [], [], close_of(due)) and not on_time_at(due, [], [], close_of(date(2025, 6, 11)))


def _brute(received: datetime, due: date, reqs: list[datetime], recs: list[datetime]) -> date | None:
    day = received.astimezone(ICT).date()
    for _ in range(120):
        if not on_time_at(due, reqs, recs, close_of(day)):
            return day
        day += timedelta(days=1)
    return None


def test_late_day_agrees_with_judging_every_day() -> None:
    rng = random.Random(766)
    for _ in range(3000):
        received = datetime(2025, 3, 1, rng.randrange(7, 18), rng.choice([0, 30]), tzinfo=ICT) + timedelta(
            days=rng.randrange(0, 20))
        due = received.astimezone(ICT).date() + timedelta(days=rng.randrange(0, 15))
        reqs, recs = [], []
        t = received
        for _ in range(rng.choice([0, 0, 1, 1, 1, 2])):
            t += timedelta(hours=rng.randrange(1, 24 * 12))
            reqs.append(t)
            if rng.random() < 0.8:
                t += timedelta(hours=rng.randrange(1, 24 * 10))
                recs.append(t)
        got = late_day(received, due, reqs, recs)
        want = _brute(received, due, reqs, recs)
        assert got == want, (received, due, reqs, recs)
