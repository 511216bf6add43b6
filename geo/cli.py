"""``ops-center wards ...``: import boundary files, list sets, change validity, re-assign devices, crosswalks, and
``ensure-demo`` (the Cà Mau sets, called by ``make up``)."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Any

from ops_center.settings import get_settings


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _date_or_open(value: str) -> date | None:
    return None if value.lower() in ("open", "none", "") else _date(value)


def _connect() -> Any:
    from ops_center.db import connect

    return connect(get_settings().database_url, autocommit=True)


def _err(cmd: str, exc: BaseException) -> int:
    print(f"wards {cmd}: {exc}", file=sys.stderr)
    return 1


def print_report(rep: dict[str, Any], out: Any = None) -> None:
    """The validation report with its counts, one figure per line."""
    out = out or sys.stdout
    lines = [
        ("features in file", rep.get("features")),
        ("units stored", rep.get("units")),
        ("repaired (invalid geometry)", rep.get("repaired")),
        ("empty (dropped)", rep.get("empties")),
        ("duplicate codes", rep.get("duplicate_codes")),
        ("overlapping pairs", f"{rep.get('overlaps')} ({rep.get('overlap_km2', 0):.3f} km²)"),
        ("gaps", f"{rep.get('gaps')} ({rep.get('gap_km2', 0):.3f} km²)"),
        ("slivers", f"{(rep.get('sliver_overlaps') or 0) + (rep.get('sliver_gaps') or 0)} "
                    f"(<= {rep.get('min_area_m2', 0):g} m², ignored)"),
        ("total area", f"{rep.get('area_km2', 0):.1f} km²"),
        ("districts named by units", rep.get("districts")),
        ("reprojected from", rep.get("reprojected_from") or "- (already EPSG:4326)"),
    ]
    for label, value in lines:
        print(f"  {label:<30} {value}", file=out)
    for key, label in (("repaired_codes", "repaired"), ("empty_codes", "empty"), ("duplicates", "duplicates"),
                       ("overlap_pairs", "overlaps")):
        items = rep.get(key) or []
        if items:
            shown = ", ".join(str(x) for x in items[:20]) + (" ..." if len(items) > 20 else "")
            print(f"  {label}: {shown}", file=out)


def _import(args: argparse.Namespace) -> int:
    from geo import service
    from geo.boundaries import BoundaryError, DuplicateCodeError, FieldMapping
    from geo.store import GeoStoreError

    mapping = FieldMapping(code_field=args.code_field, name_field=args.name_field,
                           unit_type_field=args.type_field or None,
                           district_code_field=args.parent_code_field, district_name_field=args.parent_name_field)
    try:
        with _connect() as conn:
            imp = service.import_file(conn, Path(args.file), name=args.set, level=args.level,
                                      valid_from=args.valid_from, valid_to=args.valid_to, mapping=mapping,
                                      description=args.description, family=args.family, layer=args.layer,
                                      source_crs=args.source_crs)
    except DuplicateCodeError as exc:
        from geo.store import report_json

        print("validation report (refused):")
        print_report(report_json(exc.report))
        return _err("import", exc)
    except (BoundaryError, GeoStoreError, FileNotFoundError, ValueError) as exc:
        return _err("import", exc)
    r = imp.result
    print(f"imported {r.set_name}/{r.level}: {r.units} units (replaced {r.replaced}), generation {r.generation}")
    print(f"  {imp.summary}")
    print_report(r.report)
    for w in r.warnings:
        print(f"  warning: {w}")
    if imp.reassigned is not None:
        print(f"  set in force now: {imp.reassigned} devices re-assigned")
    return 0


def _list(args: argparse.Namespace) -> int:
    from geo import service, store

    with _connect() as conn:
        sets = store.list_sets(conn)
        now = service.set_in_force(conn)
    if not sets:
        print("no boundary sets (import one: ops-center wards import FILE --set NAME --level ward --valid-from DATE)")
        return 0
    print(f"{'set':<20} {'family':<10} {'valid from':<11} {'valid to':<11} {'levels':<24} imported")
    for s in sets:
        levels = ", ".join(f"{n} {lv}s" for lv, n in sorted(s.levels.items())) or "-"
        mark = " *" if s.name == now else ""
        print(f"{s.name:<20} {s.family:<10} {s.valid_from.isoformat():<11} "
              f"{s.valid_to.isoformat() if s.valid_to else 'open':<11} {levels:<24} "
              f"{s.imported_at:%Y-%m-%d %H:%M}{mark}")
    print("* in force now")
    return 0


def _set_validity(args: argparse.Namespace) -> int:
    from geo import store

    try:
        with _connect() as conn:
            info = store.set_validity(conn, args.name, args.valid_from,
                                      "keep" if args.valid_to is False else args.valid_to)
    except store.GeoStoreError as exc:
        return _err("set-validity", exc)
    print(f"{info.name}: valid {info.valid_from} .. {info.valid_to or 'open'}")
    return 0


def _assign(args: argparse.Namespace) -> int:
    from geo import service, store

    try:
        with _connect() as conn, conn.transaction():
            name = args.set or service.set_in_force(conn)
            n = service.assign_devices(conn, name)
    except store.GeoStoreError as exc:
        return _err("assign-devices", exc)
    print(f"devices assigned to {name or 'no set (none in force)'}: {n} changed")
    return 0


def _crosswalk(args: argparse.Namespace) -> int:
    from geo import service, store

    try:
        with _connect() as conn, conn.transaction():
            cw = service.compute_crosswalk(conn, args.from_set, args.to_set, args.from_level, args.to_level)
    except store.GeoStoreError as exc:
        return _err("crosswalk", exc)
    s = cw.stats
    print(f"crosswalk {cw.from_set}/{cw.from_level} -> {cw.to_set}/{cw.to_level}: {len(cw.rows)} pairs; "
          f"from area {s.get('from_area_km2')} km², covered {s.get('covered_area_km2')} km², "
          f"uncovered share {s.get('uncovered_share')}")
    return 0


def _ensure_demo(args: argparse.Namespace) -> int:
    from geo.demo import ensure_demo
    from geo.store import GeoStoreError

    data_dir = Path(args.data_dir) if args.data_dir else get_settings().data_dir
    try:
        with _connect() as conn:
            res = ensure_demo(conn, data_dir)
    except (FileNotFoundError, GeoStoreError, ValueError) as exc:
        return _err("ensure-demo", exc)
    if not res.imported:
        print(f"boundary sets up to date ({', '.join(res.skipped)})")
    return 0


def register(sub: Any) -> None:
    wards = sub.add_parser("wards", help="boundary sets: import, list, validity, device assignment, crosswalks")
    ws = wards.add_subparsers(dest="wards_command", required=True)

    p = ws.add_parser("import", help="import a GeoJSON/Shapefile/GeoPackage as one level of a boundary set")
    p.add_argument("file")
    p.add_argument("--set", required=True, help="set name, e.g. camau-2025")
    p.add_argument("--level", required=True, choices=("ward", "district"))
    p.add_argument("--valid-from", required=True, type=_date, help="first day in force (YYYY-MM-DD)")
    p.add_argument("--valid-to", type=_date, default=None, help="last day in force; omit while in force")
    p.add_argument("--code-field", default="ward_code")
    p.add_argument("--name-field", default="ward_name")
    p.add_argument("--type-field", default="unit_type", help="unit type field ('' for none)")
    p.add_argument("--parent-code-field", default=None, help="district code of each ward (sets with districts)")
    p.add_argument("--parent-name-field", default=None)
    p.add_argument("--description", default=None)
    p.add_argument("--family", default="admin", help="sets of one family may not overlap in validity")
    p.add_argument("--layer", default=None, help="layer of a multi-layer file (GeoPackage)")
    p.add_argument("--source-crs", default=None, help="CRS of a file that declares none, e.g. EPSG:3405")
    p.set_defaults(func=_import)

    p = ws.add_parser("list", help="list boundary sets")
    p.set_defaults(func=_list)

    p = ws.add_parser("set-validity", help="change a set's validity window")
    p.add_argument("name")
    p.add_argument("--valid-from", type=_date, default=None)
    p.add_argument("--valid-to", type=_date_or_open, default=False, help="last day in force, or 'open'")
    p.set_defaults(func=_set_validity)

    p = ws.add_parser("assign-devices", help="re-assign devices to the wards of a set (default: in force now)")
    p.add_argument("--set", default=None)
    p.set_defaults(func=_assign)

    p = ws.add_parser("crosswalk", help="compute and store the area-weighted crosswalk between two sets")
    p.add_argument("--from", dest="from_set", required=True)
    p.add_argument("--to", dest="to_set", required=True)
    p.add_argument("--from-level", default="ward", choices=("ward", "district"))
    p.add_argument("--to-level", default="ward", choices=("ward", "district"))
    p.set_defaults(func=_crosswalk)

    p = ws.add_parser("ensure-demo", help="import the Cà Mau sets if missing, crosswalk them, assign devices")
    p.add_argument("--data-dir", default=None, help="default: settings.data_dir")
    p.set_defaults(func=_ensure_demo)
