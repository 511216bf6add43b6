"""Options of ``ops-center simulate`` for the one-stop-shop and the citizens' reports, and starting them."""

from __future__ import annotations

import argparse
import logging
import threading
from datetime import date
from pathlib import Path
from typing import Any

log = logging.getLogger("ingest.simulator.onestop")


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"value {text!r} is not a date YYYY-MM-DD") from None


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"value {text!r} is not a number") from None
    if not 0 < value <= 10:
        raise argparse.ArgumentTypeError(f"value {text!r} must be above 0 and at most 10")
    return value


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("one-stop-shop (dossier events) and citizens' reports")
    g.add_argument("--onestop", action="store_true",
                   help="also run the one-stop-shop: dossier history, then live events, through the API")
    g.add_argument("--onestop-only", action="store_true", help="run only the one-stop-shop (no devices)")
    g.add_argument("--onestop-scale", type=_fraction, default=0.1,
                   help="share of the province's volume (1 = about 250,000 dossiers a year; default 0.1)")
    g.add_argument("--history-days", type=int, default=760, help="days of dossier history (default 760)")
    g.add_argument("--history-from", type=_day, default=None, help="history from this day (YYYY-MM-DD)")
    g.add_argument("--history-to", type=_day, default=None, help="history up to this day (default today)")
    g.add_argument("--no-live", action="store_true", help="send the history and stop")
    g.add_argument("--citizen-reports", type=float, default=6.0, metavar="PER_HOUR",
                   help="citizens' Open311 reports per hour while live (default 6; 0: none)")
    g.add_argument("--api-url", default=None, help="the API the one-stop-shop talks to (default OPS_API_BASE_URL)")
    g.add_argument("--onestop-key-owner", default="admin", metavar="ADMIN",
                   help="the enabled admin account its API key belongs to (default admin, the one `make up` "
                        "creates)")
    g.add_argument("--onestop-state", type=Path, default=None,
                   help="its API key and progress (default .run/simulator/onestop.json, mode 0600)")


def prepare(args: argparse.Namespace, settings: Any, geo: Any, stop: threading.Event) -> Any:
    """Set up the one-stop-shop and the other e-government systems (units, catalogue, API key) and return them,
    ready to ``run()``; ``ProvisionError`` when the key's owner cannot own it."""
    from datetime import UTC, datetime

    from ingest.simulator.onestop import Planner, load_config
    from ingest.simulator.onestop_feeds import FeedPlanner, rooms
    from ingest.simulator.onestop_runner import DEFAULT_STATE, Api, OneStopShop, Options
    from ingest.simulator.onestop_setup import build_province, load_wards_2019, provision
    from ingest.simulator.onestop_units import fact_items, load_egov, province_units
    from ingest.simulator.provision import FleetState
    from ops_center.db import connect
    from ops_center.dossiers.calendar import calendar_for
    from ops_center.settings import LOCAL_TZ

    config, egov = load_config(), load_egov()
    province = build_province(geo, load_wards_2019(settings.data_dir / "camau" / "wards_2019.geojson"),
                              args.prefix)
    state = FleetState.load(args.onestop_state or DEFAULT_STATE)
    cal = calendar_for(settings)
    today = datetime.now(UTC).astimezone(LOCAL_TZ).date()
    with connect(settings.database_url, autocommit=True) as conn:
        key = provision(conn, config, egov, province, state, owner=args.onestop_key_owner, seed=args.seed,
                        today=today, add_business_days=cal.add_business_days)
    units = province_units(config, egov, province)
    planner = Planner(config, province, cal.is_business_day, cal.add_business_days, args.onestop_scale, args.seed)
    feeds = FeedPlanner(egov, units, rooms(fact_items(units, egov, args.seed, date.max)), cal.is_business_day,
                        cal.add_business_days, args.onestop_scale, args.seed)
    options = Options(api_url=args.api_url or settings.api_base_url, scale=args.onestop_scale, seed=args.seed,
                      prefix=args.prefix, history_days=args.history_days, history_from=args.history_from,
                      history_to=args.history_to, live=not args.no_live, citizens_per_hour=args.citizen_reports,
                      duration=args.duration)
    return OneStopShop(planner, feeds, lambda day: fact_items(units, egov, args.seed, day),
                       Api(options.api_url, key, stop), options, geo, state, stop)


def start_background(shop: Any) -> threading.Thread:
    def run() -> None:
        try:
            summary = shop.run()
            log.info("one-stop-shop stopped: %s", summary)
        except Exception:
            log.exception("one-stop-shop failed (the device fleet goes on)")

    thread = threading.Thread(target=run, name="onestop", daemon=True)
    thread.start()
    return thread
