"""``ops-center alerts …``: load a rule file, run one evaluation cycle, tick escalation, deliver notifications."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def _load_rules(args: argparse.Namespace) -> int:
    from alerts import rule_files
    from alerts.errors import RuleError
    from ops_center.db import connect
    from ops_center.settings import get_settings

    try:
        rf = rule_files.parse_file(Path(args.file))
    except RuleError as exc:
        for e in exc.errors:
            print(f"{args.file}: {e['field']}: {e['message']}" + (f" (got {e['value']!r})"
                                                                   if e.get("value") is not None else ""),
                  file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"alerts load-rules: cannot read {args.file}: {exc}", file=sys.stderr)
        return 1
    if args.check:
        print(f"{args.file}: {len(rf.rules)} rules, {len(rf.channels)} channels, {len(rf.policies)} policies, "
              f"{len(rf.inhibit_rules)} inhibition rules: valid")
        return 0
    with connect(get_settings().database_url) as conn:
        try:
            with conn.transaction():
                report = rule_files.apply(conn, rf, args.actor)
        except RuleError as exc:
            for e in exc.errors:
                print(f"{args.file}: {e['field']}: {e['message']} (got {e['value']!r})", file=sys.stderr)
            return 1
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from alerts import escalation, remuting, scheduled
    from alerts.models import utcnow
    from ops_center.db import connect
    from ops_center.settings import get_settings

    settings = get_settings()
    now = utcnow()
    out: dict[str, Any] = {}
    with connect(settings.database_url) as conn:
        out["scheduled"] = scheduled.evaluate(conn, now=now, tz=settings.timezone).as_dict()
        with conn.transaction():
            out["mute_changes"] = remuting.refresh(conn, now)
        with conn.transaction():
            out["escalated"] = escalation.run_due(conn, now)
        conn.commit()
    print(json.dumps(out, ensure_ascii=False, indent=2))
    return 0


def _deliver(args: argparse.Namespace) -> int:
    from alerts.notify import deliver
    from ops_center.db import connect
    from ops_center.settings import get_settings

    settings = get_settings()
    with connect(settings.database_url) as conn:
        with conn.transaction():
            ids = deliver.due(conn, args.limit, lease_s=0)
    results = [deliver.deliver(settings.database_url, i, external_url=settings.api_base_url).outcome for i in ids]
    print(json.dumps({"attempted": len(ids), "outcomes": {o: results.count(o) for o in set(results)}}))
    return 0


def register(subparsers: Any) -> None:
    alerts = subparsers.add_parser("alerts", help="alerting engine").add_subparsers(dest="alerts_command",
                                                                                   required=True)
    p = alerts.add_parser("load-rules", help="validate and load a YAML rule file (rules, channels, policies, "
                                             "inhibition rules), upserting by name")
    p.add_argument("file")
    p.add_argument("--check", action="store_true", help="validate only")
    p.add_argument("--actor", default="cli")
    p.set_defaults(func=_load_rules)
    p = alerts.add_parser("evaluate", help="run one cycle: scheduled rules, muting refresh, escalation")
    p.set_defaults(func=_evaluate)
    p = alerts.add_parser("deliver", help="deliver due notifications in this process (no worker needed)")
    p.add_argument("--limit", type=int, default=500)
    p.set_defaults(func=_deliver)
