"""Exports of boundary units and map summaries as GeoJSON, CSV (geometry as WKT, UTF-8 with BOM so spreadsheet
programs show Vietnamese names right; GDAL/geopandas read the ``WKT`` column back as geometry) and GeoPackage."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import pyogrio
import shapely

from geo import shapes
from geo.projection import WGS84
from geo.service import IndexedSet
from geo.summary import Summary, flat_properties, geojson_bytes

Format = Literal["geojson", "csv", "gpkg"]
FORMATS: tuple[Format, ...] = ("geojson", "csv", "gpkg")
MEDIA_TYPES = {"geojson": "application/geo+json", "csv": "text/csv; charset=utf-8",
               "gpkg": "application/geopackage+sqlite3", "png": "image/png"}


def unit_properties(entry: IndexedSet) -> list[dict[str, Any]]:
    return [
        {"code": u.code, "name": u.name, "unit_type": u.unit_type, "parent_code": u.parent_code,
         "parent_name": u.parent_name, "area_km2": round(u.area_km2, 4), "rep_lon": round(u.rep_lon, 6),
         "rep_lat": round(u.rep_lat, 6)}
        for u in entry.units
    ]


def units_geojson(entry: IndexedSet, tolerance_m: float, meta: dict[str, Any]) -> bytes:
    """A FeatureCollection of a set's units (``meta``: foreign members such as the set and level)."""
    geoms = shapes.geojson_geometries(entry, tolerance_m)
    parts = [
        b'{"type":"Feature","id":' + orjson.dumps(p["code"]) + b',"geometry":' + g + b',"properties":'
        + orjson.dumps(p) + b"}"
        for p, g in zip(unit_properties(entry), geoms, strict=True)
    ]
    head = orjson.dumps(meta)[1:-1]
    return b'{"type":"FeatureCollection",' + head + (b"," if head else b"") + b'"features":[' + b",".join(parts) + b"]}"


def units_frame(entry: IndexedSet, tolerance_m: float = 0.0) -> gpd.GeoDataFrame:
    geoms = shapes.simplified(entry, tolerance_m)
    return gpd.GeoDataFrame(pd.DataFrame(unit_properties(entry)), geometry=list(geoms), crs=WGS84)


def summary_frame(summary: Summary) -> gpd.GeoDataFrame:
    rows = [flat_properties(p) for p in summary.properties]
    frame = pd.DataFrame(rows)
    frame["set_name"] = summary.query.set_name
    frame["level"] = summary.query.level
    frame["window_from"] = summary.query.start.isoformat()
    frame["window_to"] = summary.query.end.isoformat()
    geoms = shapes.simplified(summary.entry, summary.query.simplify_m)
    return gpd.GeoDataFrame(frame, geometry=list(geoms), crs=WGS84)


def _typed(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Columns with no value at all become text (GDAL needs a type); numbers stay numbers."""
    out = frame.copy()
    for col in out.columns:
        if col == out.geometry.name:
            continue
        if out[col].isna().all():
            out[col] = out[col].astype("string")
        elif out[col].dtype == object:
            values = out[col].dropna()
            if len(values) and all(isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)
                                   for v in values):
                out[col] = out[col].astype("float64")
            else:
                out[col] = out[col].astype("string")
    return out


def to_csv(frame: gpd.GeoDataFrame) -> bytes:
    table = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    table["WKT"] = shapely.to_wkt(np.asarray(frame.geometry.values, dtype=object), rounding_precision=6)
    text: str = table.to_csv(index=False, lineterminator="\r\n")
    return b"\xef\xbb\xbf" + text.encode("utf-8")


def to_gpkg(frame: gpd.GeoDataFrame, layer: str) -> bytes:
    with tempfile.TemporaryDirectory(prefix="ops-geo-") as tmp:
        path = Path(tmp) / "export.gpkg"
        pyogrio.write_dataframe(_typed(frame), path, layer=layer, driver="GPKG")
        return path.read_bytes()


def export_units(entry: IndexedSet, fmt: str, tolerance_m: float, meta: dict[str, Any]) -> bytes:
    if fmt == "geojson":
        return units_geojson(entry, tolerance_m, meta)
    if fmt == "csv":
        return to_csv(units_frame(entry, tolerance_m))
    if fmt == "gpkg":
        return to_gpkg(units_frame(entry, tolerance_m), f"{entry.set_name}_{entry.level}")
    raise ValueError(f"format: {fmt!r} is not one of {', '.join(FORMATS)}")


def export_summary(summary: Summary, fmt: str) -> bytes:
    if fmt == "geojson":
        return geojson_bytes(summary)
    if fmt == "csv":
        return to_csv(summary_frame(summary))
    if fmt == "gpkg":
        return to_gpkg(summary_frame(summary), f"summary_{summary.query.set_name}_{summary.query.level}")
    raise ValueError(f"format: {fmt!r} is not one of {', '.join(FORMATS)}")
