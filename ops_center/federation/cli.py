"""``ops-center federation …``: the schema, a publishing round now, the outbox, replay, and (national) provinces
and their credentials."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any

from ops_center.settings import get_settings


def _schema(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ops_center.federation.schema import heartbeat_schema, snapshot_schema, write_into

    if args.write:
        path = Path(args.write)
        path.write_text(write_into(path.read_text(encoding="utf-8"), snapshot_schema()), encoding="utf-8")
        print(f"federation schema: written into {path}")
        return 0
    print(json.dumps(heartbeat_schema() if args.heartbeat else snapshot_schema(), indent=2, ensure_ascii=False))
    return 0


def _publish(args: argparse.Namespace) -> int:
    from ops_center.federation.config import get_config
    from ops_center.federation.tasks import run_round

    cfg = get_config()
    if cfg.mode != "province":
        print(f"federation publish: OPS_FEDERATION_MODE is {cfg.mode!r}, not 'province'", file=sys.stderr)
        return 1
    print(json.dumps(run_round(get_settings().database_url, cfg, scheduled=not args.changed), default=str))
    return 0


def _status(args: argparse.Namespace) -> int:
    from ops_center.db import connect
    from ops_center.federation import outbox

    with connect(get_settings().database_url) as conn:
        print(json.dumps(outbox.status(conn), default=str, indent=2))
    return 0


def _replay(args: argparse.Namespace) -> int:
    from ops_center.db import connect
    from ops_center.federation import outbox

    with connect(get_settings().database_url) as conn:
        n = outbox.replay_failed(conn, args.id or None)
        conn.commit()
    print(f"federation replay: {n} failed snapshot(s) queued again")
    return 0


def _provinces(args: argparse.Namespace) -> int:
    from ops_center.db import connect
    from ops_center.federation.config import get_config
    from ops_center.federation.national import credentials, provinces
    from ops_center.federation.national.store import statuses

    settings, cfg = get_settings(), get_config()
    with connect(settings.database_url) as conn:
        if args.provinces_command == "add":
            known = provinces.by_code(provinces.boundaries_path(settings, cfg))
            for code in args.codes:
                if code not in known:
                    print(f"province: {code!r} is not one of the 34 codes in the boundary file", file=sys.stderr)
                    return 1
                credentials.ensure_province(conn, code, known[code].name, args.schedule)
                if args.token:
                    print(f"{code}\t{credentials.issue(conn, code)}")
        elif args.provinces_command == "token":
            print(credentials.issue(conn, args.code))
        elif args.provinces_command == "revoke":
            print("revoked" if credentials.revoke(conn, args.code) else "no live credential")
        else:
            now = datetime.now(UTC)
            rows: list[dict[str, Any]] = [{"code": s.code, "name": s.name, "state": s.state(now),
                                           "age_s": s.age_s(now), "clock_skew_s": s.clock_skew_s}
                                          for s in statuses(conn)]
            print(json.dumps(rows, ensure_ascii=False, indent=2, default=str))
        conn.commit()
    return 0


def register(sub: Any) -> None:
    fed = sub.add_parser("federation", help="provincial → national snapshots").add_subparsers(
        dest="federation_command", required=True)
    p = fed.add_parser("schema", help="print the snapshot JSON Schema")
    p.add_argument("--heartbeat", action="store_true", help="the heartbeat's schema instead")
    p.add_argument("--write", metavar="FILE.md", help="replace the schema block in a Markdown file")
    p.set_defaults(func=_schema)
    p = fed.add_parser("publish", help="build snapshots and enqueue their delivery now (province)")
    p.add_argument("--changed", action="store_true", help="only the kinds with changes since the last round")
    p.set_defaults(func=_publish)
    p = fed.add_parser("status", help="the outbox by status (province)")
    p.set_defaults(func=_status)
    p = fed.add_parser("replay", help="queue failed snapshots again (province)")
    p.add_argument("--id", type=int, action="append", help="only these outbox ids")
    p.set_defaults(func=_replay)
    prov = fed.add_parser("provinces", help="provinces and credentials (national)").add_subparsers(
        dest="provinces_command")
    prov.required = False
    p = prov.add_parser("add", help="register provinces by code (names from the boundary file)")
    p.add_argument("codes", nargs="+")
    p.add_argument("--schedule", type=int, default=None, help="expected publishing interval, seconds")
    p.add_argument("--token", action="store_true", help="issue a credential for each and print it")
    p = prov.add_parser("token", help="issue (or replace) a province's credential; printed once")
    p.add_argument("code")
    p = prov.add_parser("revoke", help="revoke a province's credential")
    p.add_argument("code")
    fed.choices["provinces"].set_defaults(func=_provinces, provinces_command=None)
