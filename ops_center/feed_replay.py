"""Replay of the e-government feeds' dead letters after their cause was fixed (a unit or procedure added, a clock
corrected, a conflicting record straightened out at the source): dossiers, petitions, documents, meetings, unit
facts. One mechanism (``ops_center.dossiers.refused.replay``): each feed names its letters (``FeedTopics``) and the
write path that applies its items again, without recording new dead letters; the letter records the outcome.

API: ``POST /dossiers/dead-letters/replay`` and ``POST /egov/dead-letters/replay``; CLI: ``ops-center dossiers
replay-dead-letters`` and ``ops-center egov replay-dead-letters FEED``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from ops_center.db import Conn
from ops_center.dossiers import refused
from ops_center.dossiers.calendar import BusinessCalendar
from ops_center.dossiers.refused import FeedTopics, ReplayResult
from ops_center.feeds import FeedResult
from ops_center.petitions import service as petitions
from ops_center.petitions.models import HTTP_SOURCE as PETITIONS_SOURCE
from ops_center.readiness import exchange, facts

Apply = Callable[[Conn, list[Any], str, BusinessCalendar | None, datetime | None], FeedResult]


@dataclass(frozen=True)
class Feed:
    name: str
    topics: FeedTopics
    apply: Apply


def _petitions(conn: Conn, items: list[Any], topic: str, cal: BusinessCalendar | None, now: datetime | None
               ) -> FeedResult:
    return petitions.ingest_events(conn, items, topic, calendar=cal, now=now, record_rejects=False)


def _records(feed: exchange.RecordFeed) -> Apply:
    def apply(conn: Conn, items: list[Any], topic: str, _: BusinessCalendar | None, now: datetime | None
              ) -> FeedResult:
        return exchange.ingest(conn, feed, items, topic, now=now, record_rejects=False)
    return apply


def _facts(conn: Conn, items: list[Any], topic: str, _: BusinessCalendar | None, __: datetime | None) -> FeedResult:
    return facts.ingest_facts(conn, items, topic, record_rejects=False)


FEEDS: Final = {f.name: f for f in (
    Feed("petitions", FeedTopics(PETITIONS_SOURCE, "petitions"), _petitions),
    Feed("documents", FeedTopics(exchange.DOCUMENTS.http_source, exchange.DOCUMENTS.name),
         _records(exchange.DOCUMENTS)),
    Feed("meetings", FeedTopics(exchange.MEETINGS.http_source, exchange.MEETINGS.name), _records(exchange.MEETINGS)),
    Feed("facts", FeedTopics(facts.HTTP_SOURCE), _facts),
)}
"""The feeds besides dossiers (``ops_center.dossiers.service.replay_dead_letters`` replays those the same way)."""


def replay(conn: Conn, feed: str, *, ids: list[int] | None = None, limit: int = 1000,
           calendar: BusinessCalendar | None = None, now: datetime | None = None) -> ReplayResult:
    """Re-apply the refused items of ``feed``'s letters (``ids`` among them, or those not yet fixed), in one
    transaction."""
    chosen = FEEDS.get(feed)
    if chosen is None:
        raise ValueError(f"feed: {feed!r} is not one of {', '.join(FEEDS)}")

    def apply(c: Conn, items: list[Any], topic: str) -> tuple[dict[int, tuple[str, str]], int]:
        result = chosen.apply(c, items, topic, calendar, now)
        return {i: (reason, detail) for i, reason, detail in result.rejected}, result.accepted

    with conn.transaction():
        return refused.replay(conn, apply, feed=chosen.topics, ids=ids, limit=limit)


# ------------------------------------------------------------------------------------------------------------ CLI


def _replay_cli(args: argparse.Namespace) -> int:
    from ops_center.db import connect
    from ops_center.dossiers.calendar import calendar_for
    from ops_center.settings import get_settings

    settings = get_settings()
    with connect(settings.database_url) as conn:
        r = replay(conn, args.feed, ids=args.id or None, limit=args.limit, calendar=calendar_for(settings))
        conn.commit()
    for letter_id, ok, result in r.results:
        print(f"  {letter_id}: {'ok' if ok else 'FAILED'} {result}")
    print(f"{args.feed}: {r.replayed} dead letters replayed, {r.ok} fixed, {r.failed} still refused")
    return 0 if r.failed == 0 else 2


def register(sub: Any) -> None:
    e = sub.add_parser("egov", help="the e-government feeds besides dossiers (petitions, documents, meetings, facts)")
    es = e.add_subparsers(dest="egov_command", required=True)
    q = es.add_parser("replay-dead-letters", help="re-apply a feed's refused items after a fix")
    q.add_argument("feed", choices=sorted(FEEDS))
    q.add_argument("--id", type=int, action="append", help="only this dead letter (repeatable)")
    q.add_argument("--limit", type=int, default=1000)
    q.set_defaults(func=_replay_cli)
