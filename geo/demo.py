"""The Cà Mau boundary sets of the demo and the tests, loaded from ``settings.data_dir / "camau"`` (never copied
into the repository): ``camau-2019`` (101 wards + 9 districts, valid until 2025-06-30) and ``camau-2025`` (64 wards
of the merged province, valid from 2025-07-01), the 2019 → 2025 crosswalk, and device assignment.

``ensure_demo`` is idempotent and quick on re-runs: a level whose file (by SHA-256) and validity are already stored
is skipped, the crosswalk is recomputed only when an import changed, and devices are re-assigned only when some
device with coordinates is not assigned in the set in force.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from geo import service, store
from geo.boundaries import CAMAU_2019, DISTRICTS_2019, FieldMapping
from ops_center.db import Conn
from ops_center.devices import lookups as device_lookups


@dataclass(frozen=True, slots=True)
class DemoLevel:
    set_name: str
    level: str
    file: str
    mapping: FieldMapping
    valid_from: date
    valid_to: date | None
    description: str


DESCRIPTION_2019 = ("Cà Mau 2019: 101 đơn vị cấp xã (82 xã, 10 phường, 9 thị trấn) trong 9 huyện/thành phố "
                    "(danh mục đơn vị hành chính tháng 10/2019)")
DESCRIPTION_2025 = ("Cà Mau từ 01/07/2025 (hợp nhất với Bạc Liêu, bỏ cấp huyện): 64 đơn vị cấp xã "
                    "(55 xã, 9 phường)")
DEMO_LEVELS = (
    DemoLevel("camau-2019", "ward", "wards_2019.geojson", CAMAU_2019, date(2019, 1, 1), date(2025, 6, 30),
              DESCRIPTION_2019),
    DemoLevel("camau-2019", "district", "districts_2019.geojson", DISTRICTS_2019, date(2019, 1, 1),
              date(2025, 6, 30), DESCRIPTION_2019),
    DemoLevel("camau-2025", "ward", "wards_2025.geojson", FieldMapping(), date(2025, 7, 1), None, DESCRIPTION_2025),
)
CROSSWALKS = (("camau-2019", "ward", "camau-2025", "ward"), ("camau-2019", "district", "camau-2025", "ward"))


@dataclass(frozen=True, slots=True)
class DemoResult:
    imported: list[str]
    skipped: list[str]
    crosswalks: list[str]
    devices_reassigned: int | None


def _current(conn: Conn, lvl: DemoLevel, sha: str) -> bool:
    info = store.get_set(conn, lvl.set_name)
    if info is None or lvl.level not in info.levels:
        return False
    rep = info.report.get(lvl.level) or {}
    return (rep.get("sha256") == sha and info.valid_from == lvl.valid_from and info.valid_to == lvl.valid_to
            and info.family == store.DEFAULT_FAMILY)


def ensure_demo(conn: Conn, data_dir: Path, say: Callable[[str], None] = print) -> DemoResult:
    """Import what is missing or changed, compute the crosswalks, assign devices. Give an autocommit connection:
    each step is then its own transaction (committed as it ends)."""
    folder = data_dir / "camau"
    imported: list[str] = []
    skipped: list[str] = []
    for lvl in DEMO_LEVELS:
        path = folder / lvl.file
        if not path.is_file():
            raise FileNotFoundError(f"data_dir: {str(path)!r} does not exist (set OPS_DATA_DIR to the folder "
                                    "holding camau/wards_2019.geojson)")
        label = f"{lvl.set_name}/{lvl.level}"
        if _current(conn, lvl, service.file_sha256(path)):
            skipped.append(label)
            continue
        with conn.transaction():
            imp = service.import_file(conn, path, name=lvl.set_name, level=lvl.level, valid_from=lvl.valid_from,
                                      valid_to=lvl.valid_to, mapping=lvl.mapping, description=lvl.description,
                                      reassign=False)
        imported.append(label)
        say(f"imported {label}: {imp.result.units} units ({imp.summary})")
        for w in imp.result.warnings:
            say(f"  warning: {w}")
    done: list[str] = []
    for fs, fl, ts, tl in CROSSWALKS:
        with conn.transaction():
            before = store.load_crosswalk(conn, fs, fl, ts, tl)
            cw = service.get_crosswalk(conn, fs, ts, fl, tl)
        assert cw is not None
        if before is None or before.computed_at != cw.computed_at:
            done.append(f"{fs}/{fl}->{ts}/{tl}")
            say(f"crosswalk {fs}/{fl} -> {ts}/{tl}: {len(cw.rows)} pairs, uncovered share "
                f"{cw.stats.get('uncovered_share')}")
    reassigned: int | None = None
    with conn.transaction():
        now_set = service.set_in_force(conn)
        if imported or device_lookups.count_unassigned_devices(conn, now_set):
            reassigned = service.assign_devices(conn, now_set)
            say(f"devices re-assigned to {now_set}: {reassigned} changed")
    return DemoResult(imported, skipped, done, reassigned)
