"""Geometry for screens: simplified with topology preserved, as GeoJSON geometry bytes, cached per set import.

Simplification runs in the set's metric CRS (UTM zone) with ``shapely.coverage_simplify``, which simplifies each
border shared by two units once, so neighbours keep a common edge (no slivers, no gaps), then comes back to
lon/lat. A unit the simplifier would invalidate or collapse keeps its topology-preserving per-unit simplification
(or its original shape). Coordinates are snapped to a 1e-6 degree grid (about 0.1 m) with validity kept.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from typing import TypeVar

import numpy as np
import shapely
from numpy.typing import NDArray

from geo.projection import WGS84, project_geometries
from geo.service import IndexedSet

MAX_SIMPLIFY_M = 5000.0
GRID = 1e-6  # degrees
_CACHE_SIZE = 32
CacheKey = tuple[str, str, int, float]
"""(set name, level, generation, tolerance in metres)."""
Cached = TypeVar("Cached")
_lock = threading.Lock()
_geoms: OrderedDict[CacheKey, NDArray[np.object_]] = OrderedDict()
_json: OrderedDict[CacheKey, tuple[bytes, ...]] = OrderedDict()


def check_tolerance(tolerance_m: float) -> float:
    t = float(tolerance_m)
    if not (math.isfinite(t) and 0.0 <= t <= MAX_SIMPLIFY_M):
        raise ValueError(f"simplify: {tolerance_m!r} must be a tolerance in metres between 0 and {MAX_SIMPLIFY_M:g}")
    return t


def _simplify(entry: IndexedSet, tolerance_m: float) -> NDArray[np.object_]:
    geoms = entry.geometries
    if tolerance_m <= 0:
        return geoms
    crs = entry.index.metric_crs
    metric = project_geometries(geoms, crs)
    try:
        simple = np.asarray(shapely.coverage_simplify(metric, tolerance_m), dtype=object)
    except shapely.errors.GEOSException:
        simple = np.asarray(shapely.simplify(metric, tolerance_m, preserve_topology=True), dtype=object)
    bad = shapely.is_empty(simple) | ~shapely.is_valid(simple)
    if bad.any():
        fallback = np.asarray(shapely.simplify(metric[bad], tolerance_m, preserve_topology=True), dtype=object)
        still = shapely.is_empty(fallback) | ~shapely.is_valid(fallback)
        fallback[still] = metric[bad][still]
        simple[bad] = fallback
    return project_geometries(simple, WGS84, src=crs)


def _snap(geoms: NDArray[np.object_]) -> NDArray[np.object_]:
    """Coordinates on a 1e-6 degree grid (about 0.1 m), keeping every geometry valid (a ring that would collapse
    is dropped, as ``set_precision`` does); a unit that would vanish keeps its unsnapped shape."""
    snapped = np.asarray(shapely.set_precision(geoms, GRID), dtype=object)
    bad = shapely.is_empty(snapped) | ~shapely.is_valid(snapped)
    snapped[bad] = geoms[bad]
    return snapped


def _get(cache: OrderedDict[CacheKey, Cached], key: CacheKey) -> Cached | None:
    with _lock:
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
    return None


def _put(cache: OrderedDict[CacheKey, Cached], key: CacheKey, value: Cached) -> None:
    with _lock:
        cache[key] = value
        cache.move_to_end(key)
        while len(cache) > _CACHE_SIZE:
            cache.popitem(last=False)


def simplified(entry: IndexedSet, tolerance_m: float) -> NDArray[np.object_]:
    """The set's geometries (index order) simplified with ``tolerance_m`` metres (0: unchanged)."""
    t = check_tolerance(tolerance_m)
    key = (entry.set_name, entry.level, entry.generation, t)
    hit = _get(_geoms, key)
    if hit is not None:
        return hit
    out = _snap(_simplify(entry, t))
    _put(_geoms, key, out)
    return out


def geojson_geometries(entry: IndexedSet, tolerance_m: float) -> tuple[bytes, ...]:
    """GeoJSON geometry objects (UTF-8 JSON bytes), one per unit in index order."""
    t = check_tolerance(tolerance_m)
    key = (entry.set_name, entry.level, entry.generation, t)
    hit = _get(_json, key)
    if hit is not None:
        return hit
    out = tuple(s.encode() for s in shapely.to_geojson(simplified(entry, t)))
    _put(_json, key, out)
    return out
