"""``ops-center simulate``: a realistic Cà Mau device fleet publishing over real MQTT.

    ops-center simulate                                  # 300 devices, one message each every ~10 s, until stopped
    ops-center simulate --devices 20 --interval 1 --duration 30
    ops-center simulate --rate 2000 --duration 60        # load: 2,000 messages/s over the fleet's connections
    ops-center simulate --gateway --pack 50 --rate 500   # SenML packs of 50 readings via provisioned gateways
    ops-center simulate --anomaly-rate 0 --anomaly-rate garbage=0.01
    ops-center simulate --dry-run --geojson fleet.geojson

It provisions the fleet first (idempotent; secrets in ``--state``), waits for ingest to see new devices, then runs.
At the end (``--duration``, SIGTERM or Ctrl-C) every device publishes ``offline`` and a JSON summary is printed.
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import os
import random
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from ingest.validate import DEVICE_ID_RE

log = logging.getLogger("ingest.simulator")

MAX_DEVICES = 10_000


def _positive(kind: type, name: str, upper: float | None = None) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name}: value {text!r} is not a {kind.__name__}") from None
        if not value > 0 or (upper is not None and value > upper):
            bound = f" and at most {upper:g}" if upper is not None else ""
            raise argparse.ArgumentTypeError(f"{name}: value {text!r} must be above 0{bound}")
        return value

    return parse


def _prefix(text: str) -> str:
    if len(text) > 40 or not DEVICE_ID_RE.fullmatch(f"{text}-tide-001"):
        raise argparse.ArgumentTypeError(
            f"--prefix: value {text!r} must be 1-40 characters of [A-Za-z0-9_.-] starting with a letter or digit")
    return text


def register(sub: Any) -> None:
    p = sub.add_parser("simulate", help="run a simulated Cà Mau device fleet over MQTT",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--devices", type=_positive(int, "--devices", MAX_DEVICES), default=300,
                   help="fleet size (default 300)")
    p.add_argument("--seed", type=int, default=2025, help="fleet seed: the same seed gives the same fleet")
    p.add_argument("--prefix", type=_prefix, default="cm", help="device id prefix (default cm: cm-sal-001, ...)")
    p.add_argument("--interval", type=_positive(float, "--interval"), default=10.0,
                   help="realtime mode: seconds between a device's messages (default 10, jittered ±20%%)")
    p.add_argument("--rate", type=_positive(float, "--rate", 1e6), default=None,
                   help="load mode: total messages per second, cycling through the devices")
    p.add_argument("--gateway", action="store_true",
                   help="publish SenML packs through provisioned gateways for the devices behind them")
    p.add_argument("--pack", type=_positive(int, "--pack", 5000), default=50,
                   help="gateway mode: readings per SenML pack (default 50)")
    p.add_argument("--per-gateway", type=_positive(int, "--per-gateway", MAX_DEVICES), default=50,
                   help="gateway mode: devices behind each gateway (default 50)")
    p.add_argument("--duration", type=_positive(float, "--duration"), default=None,
                   help="stop after this many seconds (default: run until stopped)")
    p.add_argument("--anomaly-rate", action="append", default=[], metavar="[KIND=]P",
                   help="probability per message that an anomaly starts: P for every kind or KIND=P "
                        "(garbage, salinity_spike, flood_tide, silence, lamp_failure); repeatable")
    p.add_argument("--anomaly-duration-scale", type=_positive(float, "--anomaly-duration-scale"), default=1.0,
                   help="multiply anomaly durations (default 1: minutes to hours)")
    p.add_argument("--anomaly-log", type=Path, default=None,
                   help="append every anomaly, garbage message and device event as a JSON line to this file")
    p.add_argument("--state", type=Path, default=None,
                   help="secrets file (default .run/simulator/fleet.json, mode 0600)")
    p.add_argument("--boundaries", type=Path, default=None,
                   help="ward boundary file (default OPS_DATA_DIR/camau/wards_2025.geojson)")
    p.add_argument("--stats-every", type=float, default=60.0, help="log progress every N seconds (0: never)")
    p.add_argument("--dry-run", action="store_true", help="generate and describe the fleet; no database, no MQTT")
    p.add_argument("--geojson", type=Path, default=None, help="write the fleet as GeoJSON to this file")
    p.add_argument("--device-history-hours", type=float, default=0.0, metavar="H",
                   help="first write each device's readings of the last H hours into the store (default 0)")
    from ingest.simulator.onestop_cli import add_arguments

    add_arguments(p)
    p.set_defaults(func=run)


def _fleet_geojson(devices: list[Any], gateways: list[Any]) -> dict[str, Any]:
    feats = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [d.lon, d.lat]},
              "properties": {"id": d.id, "kind": d.kind, "name": d.name, "ward_code": d.ward_code,
                             "ward_name": d.ward_name, "expected_interval_s": d.expected_interval_s,
                             "gateway_id": d.gateway_id, "coast_km": round(d.site.coast_km, 2)}}
             for d in devices]
    feats += [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [g.lon, g.lat]},
               "properties": {"id": g.id, "kind": "gateway", "name": g.name, "devices": list(g.device_ids)}}
              for g in gateways]
    return {"type": "FeatureCollection", "features": feats}


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=os.environ.get("OPS_LOG_LEVEL", "INFO"), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from ingest.simulator.anomalies import AnomalyEngine, parse_rates
    from ingest.simulator.fleet import generate_fleet, plan_gateways
    from ingest.simulator.geography import load_geography
    from ops_center.settings import get_settings

    try:
        rates = parse_rates(args.anomaly_rate)
    except ValueError as exc:
        print(f"simulate: {exc}", file=sys.stderr)
        return 2
    settings = get_settings()
    boundaries = args.boundaries or settings.data_dir / "camau" / "wards_2025.geojson"
    try:
        geo = load_geography(boundaries)
    except (OSError, ValueError) as exc:
        print(f"simulate: --boundaries: {exc}", file=sys.stderr)
        return 2
    if args.onestop_only:
        return _onestop_only(args, settings, geo)
    devices = generate_fleet(geo, args.devices, args.seed, args.prefix)
    gateways: list[Any] = []
    if args.gateway:
        gateways, devices = plan_gateways(devices, args.prefix, args.per_gateway)
    if args.geojson is not None:
        args.geojson.write_text(json.dumps(_fleet_geojson(devices, gateways), ensure_ascii=False), encoding="utf-8")
    if args.dry_run:
        kinds = collections.Counter(d.kind for d in devices)
        wards = collections.Counter(d.ward_name for d in devices)
        print(json.dumps({"devices": len(devices), "gateways": len(gateways), "kinds": dict(sorted(kinds.items())),
                          "wards": len(wards), "busiest_wards": dict(wards.most_common(5)),
                          "boundaries": str(boundaries)}, ensure_ascii=False, indent=1))
        return 0
    return _simulate(args, settings, devices, gateways, rates, AnomalyEngine, geo)


def _simulate(args: argparse.Namespace, settings: Any, devices: list[Any], gateways: list[Any],
              rates: dict[str, float], engine_cls: Any, geo: Any = None) -> int:
    from ingest.simulator.provision import DEFAULT_STATE, FleetState, provision
    from ingest.simulator.runner import Options, Simulator, open_log
    from ops_center.db import connect

    state_path = args.state or DEFAULT_STATE
    try:
        state = FleetState.load(state_path)
    except ValueError as exc:
        print(f"simulate: {exc}", file=sys.stderr)
        return 2
    state.info.update({"seed": args.seed, "prefix": args.prefix, "devices": len(devices),
                       "gateways": [g.id for g in gateways]})
    with connect(settings.database_url, autocommit=True) as conn:
        report = provision(conn, settings, devices, gateways, state)
        if args.device_history_hours > 0:
            from ingest.simulator.history import write_history

            write_history(conn, [d for d in devices if d.id not in set(report.disabled)], args.device_history_hours)
    log.info("provisioned the fleet: %s; secrets in %s", report.summary(), state_path)
    skip = set(report.disabled)
    devices = [d for d in devices if d.id not in skip and d.gateway_id not in skip]
    gateways = [g for g in gateways if g.id not in skip]
    if not devices:
        print("simulate: every device of the fleet is disabled; nothing to simulate", file=sys.stderr)
        return 1
    delay = settings.ingest_registry_refresh_s + 1.0 if report.registry_changed else 0.0
    options = Options(interval=args.interval, rate=args.rate, gateway=args.gateway, pack=args.pack,
                      duration=args.duration, stats_every=args.stats_every, start_delay=delay)
    rng = random.Random(args.seed)
    engine = engine_cls(rates, random.Random(rng.random()), args.anomaly_duration_scale)
    anomaly_log = open_log(args.anomaly_log)
    sim = Simulator(devices, gateways, state.secrets, settings.mqtt_host, settings.mqtt_port, options, engine, rng,
                    anomaly_log)
    onestop_stop = threading.Event()
    if args.onestop:
        from ingest.simulator.onestop_cli import prepare, start_background
        from ingest.simulator.onestop_setup import ProvisionError

        try:
            start_background(prepare(args, settings, geo, onestop_stop))
        except ProvisionError as exc:
            print(f"simulate: {exc}", file=sys.stderr)
            return 2

    def _stop(signum: int, frame: Any) -> None:
        log.info("signal %d: stopping (devices say offline)", signum)
        onestop_stop.set()
        sim.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        summary = sim.run()
    finally:
        if anomaly_log is not None:
            anomaly_log.close()
    summary["provisioned"] = {"created": len(report.created), "updated": len(report.updated),
                              "credentials_rotated": len(report.rotated), "credentials_reused": len(report.reused),
                              "disabled": len(report.disabled), "ward_set": report.ward_set}
    print(json.dumps(summary, ensure_ascii=False))
    if summary["connects"] == 0:
        print("simulate: no connection was accepted by the broker (see the log)", file=sys.stderr)
        return 1
    return 0


def _onestop_only(args: argparse.Namespace, settings: Any, geo: Any) -> int:
    """The one-stop-shop alone: history, then (unless --no-live) live events until --duration or a signal."""
    from ingest.simulator.onestop_cli import prepare
    from ingest.simulator.onestop_setup import ProvisionError

    stop = threading.Event()
    try:
        shop = prepare(args, settings, geo, stop)
    except ProvisionError as exc:
        print(f"simulate: {exc}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    summary = shop.run()
    print(json.dumps(summary, ensure_ascii=False))
    return 0 if shop.stats.rejected == 0 else 1
