"""Geo services on the database: the set in force, ward assignment with an in-process index cache, bulk
re-assignment of devices, boundary imports from files, and crosswalks.

Time: validity windows are local (Việt Nam, UTC+7) calendar dates; a moment ``at`` is in force in the set whose
window covers its local date. Naive datetimes are refused.

The index cache holds one ``WardIndex`` per (set, level), keyed by the set's ``generation``: every lookup reads the
generation (one indexed row) and rebuilds the index when another process re-imported the set.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import shapely
from numpy.typing import NDArray

from geo import store
from geo.assign import WardIndex
from geo.boundaries import BoundarySet, FieldMapping, load_boundaries
from geo.crosswalk import crosswalk as compute_overlay
from geo.projection import WGS84
from geo.store import DEFAULT_FAMILY, GeoStoreError, ImportResult, SetNotFound, StoredCrosswalk
from ops_center.db import Conn
from ops_center.devices import lookups as device_lookups
from ops_center.settings import LOCAL_TZ

log = logging.getLogger("geo")

MAX_DISTANCE_M = 2000.0
MIN_FRACTION = 1e-6
Status = Literal["inside", "approximate", "outside"]


def local_date(at: datetime) -> date:
    """The Việt Nam calendar date of a moment (naive datetimes are refused: they name no moment)."""
    if at.tzinfo is None:
        raise ValueError(f"at: {at.isoformat()} has no timezone offset")
    return at.astimezone(LOCAL_TZ).date()


def set_in_force(conn: Conn, at: datetime | None = None, family: str = DEFAULT_FAMILY) -> str | None:
    """Name of the boundary set of ``family`` in force at ``at`` (default now), or None."""
    row = store.in_force(conn, local_date(at or datetime.now(UTC)), family)
    return row[0] if row else None


# ---------------------------------------------------------------------- index cache


@dataclass(frozen=True, slots=True)
class IndexedSet:
    """One (set, level) ready for assignment and drawing: units in index order and their `WardIndex`."""

    set_name: str
    level: str
    generation: int
    units: tuple[store.Unit, ...]
    geometries: NDArray[np.object_]
    index: WardIndex
    by_code: Mapping[str, store.Unit] = field(repr=False)

    @property
    def codes(self) -> tuple[str, ...]:
        return self.index.codes


class _IndexCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], IndexedSet] = {}
        self.max_distance_m = MAX_DISTANCE_M

    def get(self, conn: Conn, set_name: str, level: str, gen: int | None = None) -> IndexedSet:
        store.check_name(set_name)
        store.check_level(level)
        if gen is None:
            gen = store.generation(conn, set_name)
            if gen is None:
                raise SetNotFound(f"set: {set_name!r} is not a boundary set")
        key = (set_name, level)
        entry = self._entries.get(key)
        if entry is not None and entry.generation == gen:
            return entry
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.generation == gen:
                return entry
            units = store.load_units(conn, set_name, level)
            if not units:
                raise SetNotFound(f"level: set {set_name!r} has no {level} units")
            t0 = time.perf_counter()
            geoms = shapely.from_wkb(np.array([u.geom for u in units], dtype=object))
            index = WardIndex.build([u.code for u in units], geoms, self.max_distance_m)
            entry = IndexedSet(set_name, level, gen, tuple(units), geoms, index, {u.code: u for u in units})
            self._entries[key] = entry
            log.info("geo: indexed %s/%s (%d units, generation %d) in %.2fs", set_name, level, len(units), gen,
                     time.perf_counter() - t0)
            return entry

    def invalidate(self, set_name: str | None = None) -> None:
        with self._lock:
            for key in [k for k in self._entries if set_name is None or k[0] == set_name]:
                del self._entries[key]


_cache = _IndexCache()


def indexed_set(conn: Conn, set_name: str, level: str = "ward") -> IndexedSet:
    """The cached index of a set's level (rebuilt when the set was re-imported); SetNotFound if absent."""
    return _cache.get(conn, set_name, level)


def invalidate_cache(set_name: str | None = None) -> None:
    _cache.invalidate(set_name)


# ---------------------------------------------------------------------- assignment


@dataclass(frozen=True, slots=True)
class WardRef:
    """Where a point falls in the set in force: ``code`` None when ``outside`` (or when no set is in force, then
    ``set_name`` is None too). ``distance_m`` is 0 inside, the distance to the ward when approximate, NaN outside."""

    set_name: str | None
    code: str | None
    name: str | None
    status: Status
    district_code: str | None
    district_name: str | None
    distance_m: float

    def as_json(self) -> dict[str, Any]:
        return {
            "set_name": self.set_name, "code": self.code, "name": self.name, "status": self.status,
            "district_code": self.district_code, "district_name": self.district_name,
            "distance_m": None if math.isnan(self.distance_m) else round(self.distance_m, 1),
        }


def assign_ward(conn: Conn, lon: float, lat: float, at: datetime | None = None,
                family: str = DEFAULT_FAMILY) -> WardRef:
    """The ward of the set in force at ``at`` (default now) for one point. Raises ValueError for a bad lon/lat."""
    row = store.in_force(conn, local_date(at or datetime.now(UTC)), family)
    if row is None:
        _check_lon_lat(lon, lat)
        return WardRef(None, None, None, "outside", None, None, math.nan)
    entry = _cache.get(conn, row[0], "ward", row[1])
    return _ref(entry, entry.index.assign_one(lon, lat))


def assign_in_set(conn: Conn, set_name: str, lon: float, lat: float, level: str = "ward") -> WardRef:
    """Like ``assign_ward`` but in a named set (and level), whatever its validity."""
    entry = indexed_set(conn, set_name, level)
    return _ref(entry, entry.index.assign_one(lon, lat))


def _ref(entry: IndexedSet, a: Any) -> WardRef:
    unit = entry.by_code.get(a.code) if a.code else None
    return WardRef(entry.set_name, a.code, unit.name if unit else None, a.status,
                   unit.parent_code if unit else None, unit.parent_name if unit else None, float(a.distance_m))


def assign_points(conn: Conn, set_name: str, lon: Sequence[float] | NDArray[np.float64],
                  lat: Sequence[float] | NDArray[np.float64], level: str = "ward",
                  ) -> tuple[NDArray[np.object_], NDArray[np.str_], NDArray[np.float64]]:
    """Bulk assignment in a named set: (codes, statuses, distances) as ``WardIndex.assign_bulk``."""
    return indexed_set(conn, set_name, level).index.assign_bulk(lon, lat)


def _check_lon_lat(lon: float, lat: float) -> None:
    for name, v, limit in (("lon", lon, 180.0), ("lat", lat, 90.0)):
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise ValueError(f"{name}: {v!r} is not a number") from None
        if not abs(f) <= limit:
            raise ValueError(f"{name}: {v!r} is not a valid {name} (|{name}| <= {limit:g})")


def assign_devices(conn: Conn, set_name: str | None = None, family: str = DEFAULT_FAMILY) -> int:
    """Re-assign every device (and gateway) with coordinates to a ward of ``set_name`` (default: the set in force
    now) in bulk; rows without coordinates are left alone. With no set in force, ``ward_*`` are cleared. Returns how
    many rows' ``ward_set``/``ward_code``/``ward_status`` changed. Runs in the caller's transaction."""
    if set_name is None:
        set_name = set_in_force(conn, family=family)
    return sum(_assign_table(conn, table, set_name) for table in device_lookups.PRINCIPAL_TABLES)


def reassign_if_due(conn: Conn, family: str = DEFAULT_FAMILY) -> tuple[str | None, int]:
    """Re-assign devices and gateways when some located one is not assigned in the set in force now (the calendar
    crossed a validity boundary, or a set was changed elsewhere). Returns (set in force, rows changed)."""
    name = set_in_force(conn, family=family)
    if not device_lookups.assignment_due(conn, name):
        return name, 0
    return name, assign_devices(conn, name, family)


def _assign_table(conn: Conn, table: device_lookups.Principals, set_name: str | None) -> int:
    rows = device_lookups.with_coordinates(conn, table)
    if not rows:
        return 0
    ids = [r[0] for r in rows]
    if set_name is None:
        codes: list[str | None] = [None] * len(ids)
        statuses: list[str | None] = [None] * len(ids)
    else:
        c, s, _ = assign_points(conn, set_name, np.array([r[1] for r in rows], dtype=np.float64),
                                np.array([r[2] for r in rows], dtype=np.float64))
        codes, statuses = c.tolist(), s.tolist()
    return device_lookups.store_wards(conn, table, set_name, ids, codes, statuses)


# ---------------------------------------------------------------------- imports


@dataclass(frozen=True, slots=True)
class FileImport:
    result: ImportResult
    summary: str  # the loader's one-line report
    reassigned: int | None  # devices re-assigned because the set is in force now (None: not in force)
    skipped: bool = False  # ensure-demo: the same file was already imported


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def import_file(conn: Conn, path: str | Path, *, name: str, level: str, valid_from: date,
                valid_to: date | None = None, mapping: FieldMapping | None = None, description: str | None = None,
                family: str = DEFAULT_FAMILY, layer: str | None = None, source_crs: str | None = None,
                reassign: bool = True, source_name: str | None = None) -> FileImport:
    """Load, validate and store a boundary file as ``level`` of set ``name`` (see ``store.import_set``). When the
    set's ward level is in force now, devices are re-assigned in bulk in the same transaction."""
    store.check_name(name)
    store.check_name(family, "family")
    lvl = store.check_level(level)
    p = Path(path)
    bset: BoundarySet = load_boundaries(p, mapping, layer=layer, source_crs=source_crs)
    shown = source_name or p.name
    if shown != p.name:
        bset = BoundarySet(bset.frame, dataclasses.replace(bset.report, source=shown))
    with conn.transaction():
        result = store.import_set(
            conn, bset, name=name, level=lvl, valid_from=valid_from, valid_to=valid_to, description=description,
            family=family, source=shown, extra_report={"file": shown, "sha256": file_sha256(p)},
        )
        invalidate_cache(name)
        reassigned = None
        if reassign and lvl == "ward" and set_in_force(conn, family=family) == name:
            reassigned = assign_devices(conn, name, family)
    return FileImport(result, bset.report.summary(), reassigned)


# ---------------------------------------------------------------------- crosswalks


def _frame(entry: IndexedSet) -> Any:
    import geopandas as gpd

    return gpd.GeoDataFrame({"code": list(entry.codes)}, geometry=list(entry.geometries), crs=WGS84)


def compute_crosswalk(conn: Conn, from_set: str, to_set: str, from_level: str = "ward", to_level: str = "ward",
                      min_fraction: float = MIN_FRACTION) -> StoredCrosswalk:
    """Compute the area-weighted crosswalk between two stored sets, store it and return it. Pieces below
    ``min_fraction`` of a unit (default one millionth: floating-point slivers along borders both sets share) are
    dropped and the unit's other fractions rescaled."""
    a = indexed_set(conn, from_set, from_level)
    b = indexed_set(conn, to_set, to_level)
    cw = compute_overlay(_frame(a), _frame(b), min_fraction=min_fraction)
    from_area = sum(cw.from_area_km2.values())
    covered_area = sum(cw.from_area_km2[c] * s for c, s in cw.covered.items())
    to_area = sum(u.area_km2 for u in b.units)
    partial = {c: round(1.0 - s, 6) for c, s in cw.covered.items() if s < 0.99}
    stats = {
        "from_units": len(a.units), "to_units": len(b.units), "pairs": len(cw.rows),
        "from_area_km2": round(from_area, 3), "to_area_km2": round(to_area, 3),
        "covered_area_km2": round(covered_area, 3),
        "uncovered_share": round(1.0 - covered_area / from_area, 6) if from_area else None,
        "units_not_covered": sorted(c for c, s in cw.covered.items() if s <= 0.0),
        "units_partly_uncovered": partial, "min_fraction": min_fraction,
    }
    store.save_crosswalk(conn, cw, from_set=from_set, from_level=from_level, to_set=to_set, to_level=to_level,
                         from_generation=a.generation, to_generation=b.generation, stats=stats)
    out = store.load_crosswalk(conn, from_set, from_level, to_set, to_level)
    assert out is not None
    return out


def get_crosswalk(conn: Conn, from_set: str, to_set: str, from_level: str = "ward", to_level: str = "ward",
                  compute_missing: bool = True) -> StoredCrosswalk | None:
    """The stored crosswalk, recomputed when missing or computed from older imports (if ``compute_missing``)."""
    for n in (from_set, to_set):
        store.check_name(n)
        if store.generation(conn, n) is None:
            raise SetNotFound(f"set: {n!r} is not a boundary set")
    store.check_level(from_level, "from_level")
    store.check_level(to_level, "to_level")
    cw = store.load_crosswalk(conn, from_set, from_level, to_set, to_level)
    fresh = cw is not None and (cw.from_generation, cw.to_generation) == (
        store.generation(conn, from_set), store.generation(conn, to_set))
    if fresh or not compute_missing:
        return cw
    return compute_crosswalk(conn, from_set, to_set, from_level, to_level)


def recount(conn: Conn, counts: Mapping[str, float], from_set: str, to_set: str, from_level: str = "ward",
            to_level: str = "ward") -> tuple[dict[str, float], float]:
    """Re-express counts per unit of ``from_set`` in ``to_set`` through the crosswalk (areal interpolation).
    Returns (to_code -> count, the part that fell in no unit of the other set)."""
    cw = get_crosswalk(conn, from_set, to_set, from_level, to_level)
    assert cw is not None
    frac = cw.fractions()
    out: dict[str, float] = {}
    unplaced = 0.0
    for code, value in counts.items():
        if code not in cw.coverage:
            raise GeoStoreError(f"counts: {code!r} is not a {from_level} of set {from_set!r}")
        parts = frac.get(code)
        if not parts:
            unplaced += float(value)
            continue
        for to_code, f in parts.items():
            out[to_code] = out.get(to_code, 0.0) + float(value) * f
    return out, unplaced
