"""On time or late for the national service index (indicator 2.1 of Decision 766), pure.

A dossier *ends* when it is resolved, refused or withdrawn (``resolved_at``); one still open is judged at the end
of a period instead. From that end the citizen's supplement time is subtracted — for each supplement request, the
calendar time until the supplement was received (or until the end, while it is outstanding) — and the dossier is
on time when the local date of the result is on or before its due date. More than one supplement request made by
the end makes it late.

For an open dossier this status, as a function of the day ``L`` at whose close it is judged, is on time up to a
day and late from then on (``late_day``): before a request the due date decides; while a supplement is outstanding
the clock stands at the request; after the supplement the deadline moves by its duration; a second request is late.
So the index's rollup needs only that one day per dossier (``tests/scorecard/test_timeliness.py`` checks it
against a day-by-day evaluation).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

from ops_center.dossiers.calendar import local_date
from ops_center.settings import LOCAL_TZ

TICK = timedelta(microseconds=1)


def start_of(day: date) -> datetime:
    """The first instant of a local day."""
    return datetime.combine(day, time(0), tzinfo=LOCAL_TZ)


def close_of(day: date) -> datetime:
    """The last instant of a local day: the moment a period ending that day ends."""
    return start_of(day + timedelta(days=1)) - TICK


def supplement_time(requests: Sequence[datetime], receipts: Sequence[datetime], until: datetime) -> timedelta:
    """Calendar time the dossier waited for the citizen up to ``until``: the k-th request (in time order) is answered
    by the k-th receipt; an unanswered one (or one answered after ``until``) runs to ``until``."""
    reqs = sorted(r for r in requests if r <= until)
    recs = sorted(receipts)
    total = timedelta(0)
    for i, asked in enumerate(reqs):
        answered = recs[i] if i < len(recs) else None
        stop = until if answered is None or answered > until else answered
        if stop > asked:
            total += stop - asked
    return total


def on_time_at(due: date, requests: Sequence[datetime], receipts: Sequence[datetime], end: datetime) -> bool:
    """On time when judged at ``end`` (the dossier's end, or the close of a period it is still open at)."""
    if sum(1 for r in requests if r <= end) > 1:
        return False
    return local_date(end - supplement_time(requests, receipts, end)) <= due


def late_day(received_at: datetime, due: date, requests: Sequence[datetime], receipts: Sequence[datetime]
             ) -> date | None:
    """The first local day at whose close the dossier, were it still open, is late; None when it never is (a
    supplement asked for in time and never received stops its clock for good)."""
    first = local_date(received_at)
    candidates = {due + timedelta(days=1)}
    candidates.update(local_date(r) for r in requests)
    candidates.update(local_date(c) for c in receipts)
    shifted = start_of(due + timedelta(days=1))
    for c in receipts:  # after a supplement the deadline moves by the time it took
        candidates.add(local_date(shifted + supplement_time(requests, receipts, c)))
    for day in sorted(d for d in candidates if d >= first):
        if not on_time_at(due, requests, receipts, close_of(day)):
            return day
    return None


def end_on_time(due: date, requests: Sequence[datetime], receipts: Sequence[datetime],
                resolved_at: datetime | None) -> bool | None:
    """On time at the dossier's own end; None while it is open."""
    if resolved_at is None:
        return None
    return on_time_at(due, requests, receipts, resolved_at)
