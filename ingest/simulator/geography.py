"""The province the fleet lives in: its wards (from a real boundary file), its sea coast and its towns.

The coast is the part of the province outline between two anchors: the north-west end of the Gulf of Thailand coast
(the U Minh / Kiên Giang border) and the east end of the East Sea coast (the Bạc Liêu / Sóc Trăng border), going
round Mũi Cà Mau. The rest of the outline is the land border. Mũi Cà Mau splits the coast into the west (Gulf of
Thailand: small, mostly diurnal tides) and the east (East Sea: large, mostly semi-diurnal tides). Distances are in
km, in a local equirectangular projection (exact enough at this scale: well under 1 %).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import shapely
from numpy.typing import NDArray

from geo.boundaries import load_boundaries

WEST_ANCHOR: Final = (104.84, 9.535)
"""North-west end of the sea coast (where the province meets Kiên Giang on the Gulf of Thailand)."""
EAST_ANCHOR: Final = (105.83, 9.245)
"""East end of the sea coast (where the province meets Sóc Trăng on the East Sea)."""
CAPE: Final = (104.72, 8.60)
"""Mũi Cà Mau, where the two seas meet."""
URBAN_CENTRES: Final = {"Cà Mau": (105.1524, 9.1769), "Bạc Liêu": (105.7216, 9.2940)}
"""Town centres: air-quality stations, cameras and street lights cluster around them."""
CITY_RADIUS_KM: Final = 12.0
"""A ward (Phường) whose representative point is within this distance of Cà Mau's centre is a Cà Mau city ward."""
URBAN_UNIT_TYPE: Final = "Phường"

_LON0, _LAT0 = 105.0, 9.0
_KX: Final = 111.32 * math.cos(math.radians(9.2))
_KY: Final = 110.57


def to_km(lon: Any, lat: Any) -> tuple[Any, Any]:
    """Local x/y in km (origin 105°E 9°N)."""
    return (lon - _LON0) * _KX, (lat - _LAT0) * _KY


def _km_geometry(g: shapely.Geometry) -> shapely.Geometry:
    return shapely.transform(g, lambda xy: np.column_stack(to_km(xy[:, 0], xy[:, 1])))


@dataclass(frozen=True, slots=True)
class Ward:
    code: str
    name: str
    unit_type: str | None
    geometry: shapely.Geometry
    """EPSG:4326 polygon or multipolygon."""
    area_km2: float
    inner: shapely.Geometry = field(repr=False)
    """The ward shrunk by about 30 m: points drawn from it are inside the ward beyond any rounding doubt."""
    rep_lon: float
    rep_lat: float

    @property
    def urban(self) -> bool:
        return self.unit_type == URBAN_UNIT_TYPE


@dataclass(frozen=True)
class Geography:
    source: str
    wards: tuple[Ward, ...]
    west_coast: shapely.Geometry
    """Gulf of Thailand coast, in km coordinates."""
    east_coast: shapely.Geometry
    """East Sea coast, in km coordinates."""

    def coast_km(self, lon: float, lat: float) -> float:
        """Distance to the nearest sea coast (km)."""
        p = shapely.Point(*to_km(lon, lat))
        return float(min(self.west_coast.distance(p), self.east_coast.distance(p)))

    def coast_km_many(self, lon: NDArray[np.float64], lat: NDArray[np.float64]) -> NDArray[np.float64]:
        x, y = to_km(lon, lat)
        pts = shapely.points(x, y)
        km: NDArray[np.float64] = np.minimum(shapely.distance(pts, self.west_coast),
                                             shapely.distance(pts, self.east_coast))
        return km

    def east_weight(self, lon: float, lat: float) -> float:
        """0 on the Gulf of Thailand coast, 1 on the East Sea coast; in between by relative distance."""
        p = shapely.Point(*to_km(lon, lat))
        dw, de = float(self.west_coast.distance(p)), float(self.east_coast.distance(p))
        return 0.5 if dw + de == 0 else dw / (dw + de)

    def urban_km(self, lon: float, lat: float) -> float:
        """Distance to the nearest town centre (km)."""
        x, y = to_km(lon, lat)
        return min(math.hypot(x - cx, y - cy)
                   for cx, cy in (to_km(*c) for c in URBAN_CENTRES.values()))

    def city_wards(self) -> list[Ward]:
        """The wards of Cà Mau city (Phường near Cà Mau's centre)."""
        cx, cy = to_km(*URBAN_CENTRES["Cà Mau"])
        out = []
        for w in self.wards:
            x, y = to_km(w.rep_lon, w.rep_lat)
            if w.urban and math.hypot(x - cx, y - cy) <= CITY_RADIUS_KM:
                out.append(w)
        return out

    def ward(self, code: str) -> Ward:
        for w in self.wards:
            if w.code == code:
                return w
        raise KeyError(f"ward_code: {code!r} is not a ward of {self.source}")


def _nearest_vertex(xy: NDArray[np.float64], point: tuple[float, float]) -> int:
    return int(np.argmin(((xy - np.asarray(point)) ** 2).sum(axis=1)))


def _arc(n: int, i: int, j: int) -> list[int]:
    """Vertex indices from ``i`` to ``j`` going forward round a ring of ``n`` vertices."""
    return [(i + k) % n for k in range((j - i) % n + 1)]


def split_coast(outline: shapely.Geometry) -> tuple[shapely.LineString, shapely.LineString]:
    """(west coast, east coast) of the largest polygon of ``outline`` (lon/lat), see the module docstring."""
    polys = list(getattr(outline, "geoms", [outline]))
    main = max(polys, key=lambda g: g.area)
    xy = np.asarray(main.exterior.coords)[:-1]
    n = len(xy)
    a, b = _nearest_vertex(xy, WEST_ANCHOR), _nearest_vertex(xy, EAST_ANCHOR)
    south = int(np.argmin(xy[:, 1]))
    coast = _arc(n, a, b)
    if south not in coast:
        coast = _arc(n, b, a)[::-1]  # the other way round, still running west anchor -> east anchor
    cape = _nearest_vertex(xy[coast], CAPE)
    west, east = xy[coast[: cape + 1]], xy[coast[cape:]]
    return shapely.LineString(west), shapely.LineString(east)


def load_geography(path: str | Path) -> Geography:
    """Wards, coast and towns from a boundary file (the fields of ``wards_2025.geojson``)."""
    boundaries = load_boundaries(path)
    frame = boundaries.frame
    wards = []
    for r in frame.itertuples(index=False):
        geom = r.geometry
        inner = geom.buffer(-0.0003)
        if inner.is_empty:
            inner = geom
        rep = geom.representative_point()
        wards.append(Ward(str(r.code), str(r.name), r.unit_type, geom, float(r.area_km2), inner, rep.x, rep.y))
    west, east = split_coast(shapely.union_all(np.asarray(frame.geometry.values, dtype=object)))
    return Geography(Path(path).name, tuple(sorted(wards, key=lambda w: w.code)),
                     _km_geometry(west), _km_geometry(east))
