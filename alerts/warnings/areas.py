"""CAP <area> blocks from wards: one block per ward with its name (<areaDesc>), its code (<geocode>) and its
outline as <polygon>s within what aggregators accept.

Polygons: closed rings of "lat,lon" pairs (CAP 1.2), at least 4 pairs, no holes (CAP cannot express them: a ward
with an enclave covers the enclave too; the geocodes stay exact), not self-intersecting, at most 6 decimals, and at
most ``polygon_max_points`` vertices. The whole boundary set is simplified together (``geo.shapes``: shared
borders simplified once, so neighbouring wards neither overlap nor leave gaps), with the smallest tolerance of a
ladder at which every ring of the message fits; a part smaller than ``polygon_min_share`` of its ward is left out
(its geocode still covers it)."""

from __future__ import annotations

from dataclasses import dataclass

import shapely

from alerts.warnings.config import WarningsConfig
from geo import service as geo_service
from geo import shapes
from ops_center.db import Conn

TOLERANCES_M = (0.0, 10.0, 25.0, 50.0, 100.0, 200.0, 400.0, 800.0, 1600.0, 3200.0, 5000.0)


@dataclass(frozen=True, slots=True)
class Area:
    code: str
    name: str
    polygons: tuple[str, ...]


def _rings(geom: shapely.Geometry, min_share: float) -> list[shapely.LinearRing]:
    parts = list(getattr(geom, "geoms", [geom]))
    total = sum(p.area for p in parts) or 1.0
    kept = [p for p in parts if p.area / total >= min_share] or [max(parts, key=lambda p: p.area)]
    return [p.exterior for p in kept if not p.is_empty]


def _fits(geoms: list[shapely.Geometry], max_points: int, min_share: float) -> bool:
    return all(len(r.coords) <= max_points for g in geoms for r in _rings(g, min_share))


def _ring_text(ring: shapely.LinearRing) -> str:
    """"lat,lon lat,lon …" closed, 6 decimals at most (the set's grid is 1e-6 degree already)."""
    coords = list(ring.coords)
    if coords[0] != coords[-1]:
        coords.append(coords[0])
    return " ".join(f"{_num(lat)},{_num(lon)}" for lon, lat in coords)


def _num(x: float) -> str:
    return f"{x:.6f}".rstrip("0").rstrip(".")


def _coarsened(ring: shapely.LinearRing, max_points: int) -> shapely.LinearRing:
    """Last resort for a ring still too long: simplify it alone, doubling the tolerance (degrees)."""
    tolerance = 1e-4
    poly = shapely.Polygon(ring)
    while len(poly.exterior.coords) > max_points:
        poly = shapely.simplify(poly, tolerance, preserve_topology=True)
        tolerance *= 2
    return poly.exterior


def ward_areas(conn: Conn, set_name: str, codes: list[str], names: dict[str, str],
               config: WarningsConfig) -> list[Area]:
    """One ``Area`` per ward code, in order, with its polygons simplified to the CAP limits."""
    entry = geo_service.indexed_set(conn, set_name, "ward")
    index = {code: i for i, code in enumerate(entry.codes)}
    chosen: list[shapely.Geometry] = []
    for tolerance in TOLERANCES_M:
        simple = shapes.simplified(entry, tolerance)
        chosen = [simple[index[c]] for c in codes]
        if _fits(chosen, config.polygon_max_points, config.polygon_min_share):
            break
    areas = []
    for code, geom in zip(codes, chosen, strict=True):
        rings = [r if len(r.coords) <= config.polygon_max_points else _coarsened(r, config.polygon_max_points)
                 for r in _rings(geom, config.polygon_min_share)]
        areas.append(Area(code, names[code], tuple(_ring_text(r) for r in rings if len(r.coords) >= 4)))
    return areas
