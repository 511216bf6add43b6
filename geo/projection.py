"""Coordinate reference systems used by the geo layer.

Boundaries and points are stored in WGS 84 lon/lat (EPSG:4326). Anything measured in metres (nearest-ward
distances, areas, overlaps, crosswalk fractions) is computed in a projected CRS chosen for the data:

- distances: the WGS 84 UTM zone of the data's centre (EPSG:32648 for Cà Mau); the scale error inside a zone is
  below 0.1%, so a 2 km search radius is honoured to within a couple of metres;
- areas: a Lambert azimuthal equal-area projection centred on the data, exact for areas by construction.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from pyproj import CRS, Transformer

WGS84 = CRS.from_epsg(4326)


def utm_crs(lon: float, lat: float) -> CRS:
    """The WGS 84 UTM zone CRS containing (lon, lat), e.g. EPSG:32648 for Cà Mau."""
    _check_lon_lat(lon, lat)
    zone = min(math.floor((lon + 180.0) / 6.0) + 1, 60)
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def equal_area_crs(lon: float, lat: float) -> CRS:
    """A Lambert azimuthal equal-area CRS (metres) centred on (lon, lat)."""
    _check_lon_lat(lon, lat)
    return CRS.from_proj4(f"+proj=laea +lat_0={lat:.6f} +lon_0={lon:.6f} +datum=WGS84 +units=m +no_defs")


def transformer(src: CRS, dst: CRS) -> Transformer:
    """A lon/lat-ordered (always_xy) transformer from src to dst."""
    return Transformer.from_crs(src, dst, always_xy=True)


def project_xy(lon: ArrayLike, lat: ArrayLike, dst: CRS) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Project lon/lat arrays (EPSG:4326) to dst; returns (x, y) float64 arrays."""
    x, y = transformer(WGS84, dst).transform(
        np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    )
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)


def project_geometries(geometries: ArrayLike, dst: CRS, src: CRS = WGS84) -> NDArray[np.object_]:
    """Project an array of shapely geometries from src (default EPSG:4326) to dst."""
    tr = transformer(src, dst)

    def _apply(
        x: NDArray[np.float64], y: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        return tr.transform(x, y)

    return np.asarray(shapely.transform(np.asarray(geometries, dtype=object), _apply, interleaved=False))


def project_polygons(geometries: ArrayLike, dst: CRS, src: CRS = WGS84) -> NDArray[np.object_]:
    """Project polygons and repair those the projection made invalid (a hole touching its shell within a
    rounding error can cross it once projected), so overlay operations on the result cannot fail."""
    out = project_geometries(geometries, dst, src)
    bad = ~shapely.is_valid(out)
    if bad.any():
        out[bad] = shapely.make_valid(out[bad], method="structure", keep_collapsed=False)
    return out


def centre_of(geometries: ArrayLike) -> tuple[float, float]:
    """Centre (lon, lat) of the bounding box of lon/lat geometries."""
    minx, miny, maxx, maxy = shapely.total_bounds(np.asarray(geometries, dtype=object))
    if not np.all(np.isfinite([minx, miny, maxx, maxy])):
        raise ValueError("geometries: no coordinates to take a centre from (all empty?)")
    return (float(minx + maxx) / 2.0, float(miny + maxy) / 2.0)


def _check_lon_lat(lon: float, lat: float) -> None:
    if not (math.isfinite(lon) and -180.0 <= lon <= 180.0):
        raise ValueError(f"lon: {lon!r} is not a longitude in [-180, 180]")
    if not (math.isfinite(lat) and -90.0 <= lat <= 90.0):
        raise ValueError(f"lat: {lat!r} is not a latitude in [-90, 90]")
