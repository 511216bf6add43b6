"""``ops-center dossiers ...`` and ``ops-center incidents ...``: load the procedures catalogue and incident
categories from files, show and check the business calendar, compute a due date, recompute due dates after a
calendar change, rebuild the KPI rollup, replay refused dossier events."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import Any

from ops_center.settings import get_settings


def _connect() -> Any:
    from ops_center.db import connect

    return connect(get_settings().database_url)


def _procedures_load(args: argparse.Namespace) -> int:
    from ops_center.dossiers import procedures

    try:
        items = procedures.read_file(args.file)
    except (procedures.ProcedureError, OSError) as exc:
        print(f"dossiers procedures load: {exc}", file=sys.stderr)
        return 1
    with _connect() as conn:
        n = procedures.upsert(conn, items)
        conn.commit()
    print(f"dossiers: {n} procedures loaded from {args.file}")
    return 0


def _calendar(args: argparse.Namespace) -> int:
    from ops_center.dossiers.calendar import CalendarError, calendar_for, load_calendar

    try:
        cal = load_calendar(args.file) if args.file else calendar_for(get_settings())
    except CalendarError as exc:
        print(f"dossiers calendar: {exc}", file=sys.stderr)
        return 1
    years = [args.year] if args.year else sorted(cal.years)
    for year in years:
        info = cal.years.get(year)
        print(f"{year}: {info.status if info else 'statutory only'}" + (f" — {info.source}" if info else ""))
        for d, name in cal.holidays_in(year):
            print(f"  off     {d.isoformat()} {d.strftime('%a')}  {name}")
        for d, name in sorted(cal.working_days.items()):
            if d.year == year:
                print(f"  working {d.isoformat()} {d.strftime('%a')}  {name}")
    return 0


def _due(args: argparse.Namespace) -> int:
    from ops_center.dossiers.calendar import calendar_for

    try:
        received = datetime.fromisoformat(args.received_at)
        due = calendar_for(get_settings()).due_date(received, args.days)
    except ValueError as exc:
        print(f"dossiers due: received_at: {exc}", file=sys.stderr)
        return 1
    print(due.isoformat())
    return 0


def _recompute(args: argparse.Namespace) -> int:
    from ops_center.dossiers.calendar import calendar_for
    from ops_center.dossiers.service import recompute_due_dates

    with _connect() as conn:
        n = recompute_due_dates(conn, calendar_for(get_settings()), only_open=not args.all)
        conn.commit()
    print(f"dossiers: {n} due dates moved")
    return 0


def _rebuild(args: argparse.Namespace) -> int:
    from ops_center.dossiers import index_rollup, rollup
    from ops_center.petitions import service as petitions

    with _connect() as conn:
        n = rollup.rebuild(conn)
        m = index_rollup.rebuild(conn)
        p = petitions.rebuild(conn)
        conn.commit()
    print(f"dossiers: rollup rebuilt, {n} rows; national service index rollup {m} rows; petitions rollup {p} rows")
    return 0


def _replay(args: argparse.Namespace) -> int:
    from ops_center.dossiers.calendar import calendar_for
    from ops_center.dossiers.service import replay_dead_letters

    with _connect() as conn:
        r = replay_dead_letters(conn, limit=args.limit, calendar=calendar_for(get_settings()))
        conn.commit()
    for letter_id, ok, result in r.results:
        print(f"  {letter_id}: {'ok' if ok else 'FAILED'} {result}")
    print(f"dossiers: {r.replayed} dead letters replayed, {r.ok} fixed, {r.failed} still refused")
    return 0 if r.failed == 0 else 2


def _categories_load(args: argparse.Namespace) -> int:
    from ops_center.incidents import categories
    from ops_center.incidents.models import IncidentError

    try:
        items = categories.read_file(args.file)
    except (IncidentError, OSError) as exc:
        print(f"incidents categories load: {exc}", file=sys.stderr)
        return 1
    with _connect() as conn:
        n = categories.upsert(conn, items)
        conn.commit()
    print(f"incidents: {n} categories loaded from {args.file}")
    return 0


def _categories_list(args: argparse.Namespace) -> int:
    from ops_center.incidents import categories

    with _connect() as conn:
        for c in categories.list_categories(conn, include_disabled=True):
            print(f"{c.code:26} {c.default_severity:8} SLA {c.sla_hours:>4} h  {c.label_vi} / {c.label_en}"
                  + ("" if c.enabled else "  (disabled)"))
    return 0


def register(sub: Any) -> None:
    d = sub.add_parser("dossiers", help="public-service dossiers: catalogue, calendar, KPI rollup")
    ds = d.add_subparsers(dest="dossiers_command", required=True)
    p = ds.add_parser("procedures", help="the procedures catalogue").add_subparsers(dest="proc_command",
                                                                                    required=True)
    q = p.add_parser("load", help="insert or update procedures from a YAML or CSV file")
    q.add_argument("file")
    q.set_defaults(func=_procedures_load)
    q = ds.add_parser("calendar", help="show (or check) the business calendar")
    q.add_argument("--year", type=int)
    q.add_argument("--file", help="check this calendar file instead of the configured one")
    q.set_defaults(func=_calendar)
    q = ds.add_parser("due", help="the due date for a received time and a number of business days")
    q.add_argument("received_at", help="ISO 8601 with an offset, e.g. 2026-02-13T09:00:00+07:00")
    q.add_argument("days", type=int)
    q.set_defaults(func=_due)
    q = ds.add_parser("recompute-due", help="recompute due dates after a calendar change (open dossiers)")
    q.add_argument("--all", action="store_true", help="resolved dossiers too (changes past on-time rates)")
    q.set_defaults(func=_recompute)
    q = ds.add_parser("rebuild-rollup", help="recompute the KPI and national service index rollups from the dossiers and petitions tables")
    q.set_defaults(func=_rebuild)
    q = ds.add_parser("replay-dead-letters", help="re-apply refused dossier events after a fix")
    q.add_argument("--limit", type=int, default=1000)
    q.set_defaults(func=_replay)

    i = sub.add_parser("incidents", help="incident categories")
    isub = i.add_subparsers(dest="incidents_command", required=True)
    c = isub.add_parser("categories", help="incident categories").add_subparsers(dest="cat_command", required=True)
    q = c.add_parser("load", help="insert or update categories from a YAML file")
    q.add_argument("file")
    q.set_defaults(func=_categories_load)
    q = c.add_parser("list", help="list the categories")
    q.set_defaults(func=_categories_list)
