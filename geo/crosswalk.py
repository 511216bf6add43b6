"""Crosswalk between two boundary sets by area-weighted overlay.

For every unit of the `from` set (say a 2019 ward) the crosswalk gives the share of its area lying in each unit of
the `to` set (the 2025 wards), computed in a Lambert azimuthal equal-area projection centred on the two sets. The
two vintages rarely share an outline (different sources, generalised coasts), so part of a unit may lie in no unit
of the other set: that part is reported as `uncovered`, and the `fraction`s of a unit are shares of its *covered*
area, summing to 1 for every unit that overlaps the other set at all. `area_share` is the share of the whole area.

`Crosswalk.apply(counts)` re-expresses counts kept per `from` unit in the `to` set (assuming the counted things are
spread evenly over each unit's area — the usual areal-interpolation assumption).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import CRS

from geo.boundaries import BoundarySet
from geo.projection import WGS84, centre_of, equal_area_crs, project_polygons


@dataclass(frozen=True, slots=True)
class CrosswalkRow:
    from_code: str
    to_code: str
    fraction: float  # share of the from unit's covered area lying in the to unit
    area_share: float  # share of the from unit's whole area lying in the to unit
    area_km2: float  # area of the intersection


@dataclass(frozen=True, slots=True)
class Crosswalk:
    """The overlay of a `from` set onto a `to` set (see the module docstring)."""

    rows: tuple[CrosswalkRow, ...]
    covered: Mapping[str, float]  # per from code: share of its area inside some to unit, 0..1
    from_area_km2: Mapping[str, float]

    def pairs(self) -> list[tuple[str, str, float]]:
        """(from_code, to_code, fraction) for every overlapping pair."""
        return [(r.from_code, r.to_code, r.fraction) for r in self.rows]

    def uncovered(self, from_code: str) -> float:
        """Share of a from unit's area lying in no unit of the to set."""
        if from_code not in self.covered:
            raise KeyError(f"from_code: {from_code!r} is not a unit of the from set")
        return 1.0 - self.covered[from_code]

    def fractions(self, from_code: str) -> dict[str, float]:
        """to_code → fraction for one from unit (empty when it overlaps no to unit)."""
        if from_code not in self.covered:
            raise KeyError(f"from_code: {from_code!r} is not a unit of the from set")
        return {r.to_code: r.fraction for r in self.rows if r.from_code == from_code}

    def apply(self, counts: Mapping[str, float]) -> tuple[dict[str, float], float]:
        """Re-express counts per from unit as counts per to unit. Returns (to_code → count, the part of the
        counts that could not be placed because their unit overlaps no to unit)."""
        by_from: dict[str, list[CrosswalkRow]] = {}
        for r in self.rows:
            by_from.setdefault(r.from_code, []).append(r)
        out: dict[str, float] = {}
        unplaced = 0.0
        for code, value in counts.items():
            if code not in self.covered:
                raise KeyError(f"counts: {code!r} is not a unit of the from set")
            rows = by_from.get(code)
            if not rows:
                unplaced += float(value)
                continue
            for r in rows:
                out[r.to_code] = out.get(r.to_code, 0.0) + float(value) * r.fraction
        return out, unplaced


def crosswalk(
    from_frame: gpd.GeoDataFrame | BoundarySet,
    to_frame: gpd.GeoDataFrame | BoundarySet,
    *,
    from_code_column: str = "code",
    to_code_column: str = "code",
    min_fraction: float = 0.0,
) -> Crosswalk:
    """Area-weighted crosswalk from one boundary set to another.

    Frames are GeoDataFrames with a CRS and a unique code column (or `BoundarySet`s). Pairs whose fraction is below
    `min_fraction` (slivers where two vintages' borders disagree) are dropped and the rest of that unit's fractions
    are rescaled to sum to 1 again.
    """
    if not 0.0 <= min_fraction < 1.0:
        raise ValueError(f"min_fraction: {min_fraction!r} must be in [0, 1)")
    from_codes, from_geoms = _codes_and_geoms(from_frame, from_code_column, "from_frame")
    to_codes, to_geoms = _codes_and_geoms(to_frame, to_code_column, "to_frame")

    ea = equal_area_crs(*centre_of(np.concatenate([from_geoms, to_geoms])))
    from_m = project_polygons(from_geoms, ea)
    to_m = project_polygons(to_geoms, ea)
    shapely.prepare(to_m)
    from_area = shapely.area(from_m)

    src, dst = shapely.STRtree(to_m).query(from_m, predicate="intersects")
    piece = shapely.area(shapely.intersection(from_m[src], to_m[dst]))
    keep = piece > 0
    src, dst, piece = src[keep], dst[keep], piece[keep]
    covered_area = np.bincount(src, weights=piece, minlength=len(from_codes))

    share = piece / from_area[src]
    fraction = piece / covered_area[src]
    if min_fraction > 0:
        keep = fraction >= min_fraction
        src, dst, piece, share = src[keep], dst[keep], piece[keep], share[keep]
        fraction = piece / np.bincount(src, weights=piece, minlength=len(from_codes))[src]

    order = np.lexsort((-piece, src))
    rows = tuple(
        CrosswalkRow(from_codes[s], to_codes[d], float(f), float(a), float(p) / 1e6)
        for s, d, f, a, p in zip(
            src[order].tolist(), dst[order].tolist(), fraction[order], share[order], piece[order], strict=True
        )
    )
    covered = {c: float(min(1.0, covered_area[i] / from_area[i])) for i, c in enumerate(from_codes)}
    areas = {c: float(from_area[i]) / 1e6 for i, c in enumerate(from_codes)}
    return Crosswalk(rows=rows, covered=covered, from_area_km2=areas)


def _codes_and_geoms(
    frame: gpd.GeoDataFrame | BoundarySet, column: str, name: str
) -> tuple[list[str], NDArray[np.object_]]:
    gdf = frame.frame if isinstance(frame, BoundarySet) else frame
    if column not in gdf.columns:
        raise ValueError(f"{name}: no column {column!r} (columns: {', '.join(map(repr, gdf.columns))})")
    if gdf.crs is None:
        raise ValueError(f"{name}: the frame has no CRS")
    if not CRS.from_user_input(gdf.crs).equals(WGS84, ignore_axis_order=True):
        gdf = gdf.to_crs(WGS84)
    codes = [str(c) for c in gdf[column]]
    seen: set[str] = set()
    for c in codes:
        if c in seen:
            raise ValueError(f"{name}: duplicate code {c!r} in column {column!r}")
        seen.add(c)
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    for c, g in zip(codes, geoms, strict=True):
        if g is None or g.is_empty or not isinstance(g, shapely.Polygon | shapely.MultiPolygon):
            raise ValueError(f"{name}: geometry of {c!r} is not a non-empty polygon")
    if not len(codes):
        raise ValueError(f"{name}: no units")
    return codes, geoms
