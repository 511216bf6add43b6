"""Loading and validating boundary sets (wards, optionally with their districts).

`load_boundaries(path, mapping)` reads a GeoJSON, Shapefile or GeoPackage (anything GDAL/pyogrio reads), maps the
file's own field names onto ours (`FieldMapping`), reprojects to EPSG:4326, repairs invalid polygons
(`shapely.make_valid`, keeping the polygonal parts), drops empty features, and measures the set: overlaps between
features and gaps (holes inside the union), with areas in a local equal-area projection. Everything found is counted
in a `BoundaryReport`. Duplicate codes are refused with a `DuplicateCodeError` naming them (pass
`allow_duplicate_codes=True` to inspect such a file instead).

The result, `BoundarySet`, holds a GeoDataFrame with the columns of `FRAME_COLUMNS` (code, name, unit_type,
parent_code, parent_name, area_km2, geometry); `parent_*` is the district of a ward when the set has districts.
"""

from __future__ import annotations

import math
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pyogrio
import shapely
from numpy.typing import NDArray
from pyproj import CRS

from geo.projection import WGS84, centre_of, equal_area_crs, project_geometries
from ops_center.storable import shown, text_problem

if TYPE_CHECKING:
    from geo.assign import WardIndex

FRAME_COLUMNS = ("code", "name", "unit_type", "parent_code", "parent_name", "area_km2", "geometry")


@dataclass(frozen=True, slots=True)
class FieldMapping:
    """Which attribute of the source file holds each of our fields. `None` means the file has no such field.
    Defaults match the project's Cà Mau files (wards_2019/2025.geojson); see `CAMAU_2019` for the 2019 wards."""

    code_field: str = "ward_code"
    name_field: str = "ward_name"
    unit_type_field: str | None = "unit_type"
    district_code_field: str | None = None
    district_name_field: str | None = None

    def fields(self) -> dict[str, str]:
        """Our field → the source field, for the fields that are mapped."""
        pairs = {
            "code_field": self.code_field,
            "name_field": self.name_field,
            "unit_type_field": self.unit_type_field,
            "district_code_field": self.district_code_field,
            "district_name_field": self.district_name_field,
        }
        return {k: v for k, v in pairs.items() if v is not None}


CAMAU_2019 = FieldMapping(district_code_field="district_code", district_name_field="district_name")
"""Mapping for wards_2019.geojson, whose wards carry their district."""

DISTRICTS_2019 = FieldMapping(code_field="district_code", name_field="district_name")
"""Mapping for districts_2019.geojson."""


@dataclass(frozen=True, slots=True)
class BoundaryReport:
    """What loading a boundary file found. Areas are in km² measured in a local equal-area projection. Overlaps
    and gaps of at most `min_area_m2` are slivers (numerical noise of digitising and cleaning, far below the
    accuracy of any boundary data): they are counted apart, in `sliver_overlaps` and `sliver_gaps`."""

    source: str
    features: int  # features in the file
    repaired: int  # invalid geometries repaired with make_valid
    empties: int  # features with no (polygonal) geometry, dropped
    duplicate_codes: int  # codes used by more than one feature
    overlaps: int  # pairs of features whose interiors overlap
    overlap_km2: float
    gaps: int  # holes inside the union of all features
    gap_km2: float
    sliver_overlaps: int  # overlapping pairs at or below min_area_m2 (not in `overlaps`)
    sliver_gaps: int  # holes at or below min_area_m2 (not in `gaps`)
    area_km2: float  # total area of the features kept
    districts: int  # distinct parent (district) codes, 0 when the set has none
    reprojected_from: str | None  # source CRS when it was not EPSG:4326
    min_area_m2: float
    repaired_codes: tuple[str, ...] = ()
    empty_codes: tuple[str, ...] = ()
    duplicates: tuple[tuple[str, int], ...] = ()  # (code, number of features using it)
    overlap_pairs: tuple[tuple[str, str, float], ...] = ()  # (code, code, km²)
    gap_areas_km2: tuple[float, ...] = field(default=())

    def summary(self) -> str:
        """One line for logs and the import command."""
        parts = [
            f"{self.source}: {self.features} features",
            f"{self.repaired} repaired",
            f"{self.empties} empty",
            f"{self.duplicate_codes} duplicate codes",
            f"{self.overlaps} overlaps ({self.overlap_km2:.3f} km²)",
            f"{self.gaps} gaps ({self.gap_km2:.3f} km²)",
            f"{self.sliver_overlaps + self.sliver_gaps} slivers <= {self.min_area_m2:g} m²",
            f"{self.area_km2:.1f} km²",
        ]
        if self.districts:
            parts.append(f"{self.districts} districts")
        if self.reprojected_from:
            parts.append(f"reprojected from {self.reprojected_from}")
        return ", ".join(parts)


class BoundaryError(ValueError):
    """A boundary file that cannot be used as it is."""


class DuplicateCodeError(BoundaryError):
    """Two or more features share a code; `codes` maps each duplicated code to its number of features."""

    def __init__(self, codes: dict[str, int], report: BoundaryReport) -> None:
        listed = ", ".join(f"{c!r} ({n} features)" for c, n in sorted(codes.items()))
        super().__init__(f"{report.source}: duplicate code(s) {listed}; every unit needs its own code")
        self.codes = codes
        self.report = report


@dataclass(frozen=True, slots=True)
class BoundaryFeature:
    """One unit of a boundary set (EPSG:4326 geometry)."""

    code: str
    name: str
    unit_type: str | None
    parent_code: str | None
    parent_name: str | None
    area_km2: float
    geometry: shapely.Polygon | shapely.MultiPolygon

    @property
    def wkb(self) -> bytes:
        wkb: bytes = shapely.to_wkb(self.geometry)
        return wkb


@dataclass(frozen=True, slots=True)
class BoundarySet:
    """A loaded, validated boundary set: `frame` (columns FRAME_COLUMNS, EPSG:4326) and its `report`."""

    frame: gpd.GeoDataFrame
    report: BoundaryReport

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def codes(self) -> list[str]:
        codes: list[str] = self.frame["code"].tolist()
        return codes

    @property
    def has_districts(self) -> bool:
        return bool(self.frame["parent_code"].notna().any())

    def features(self) -> list[BoundaryFeature]:
        return [
            BoundaryFeature(
                code=r.code,
                name=r.name,
                unit_type=r.unit_type,
                parent_code=r.parent_code,
                parent_name=r.parent_name,
                area_km2=float(r.area_km2),
                geometry=r.geometry,
            )
            for r in self.frame.itertuples(index=False)
        ]

    def districts(self) -> gpd.GeoDataFrame:
        """One row per district (code, name, n_units, area_km2, geometry = union of its wards, without the
        sliver holes of at most `report.min_area_m2` that gaps between its wards would leave)."""
        if not self.has_districts:
            raise BoundaryError(
                f"{self.report.source}: the set has no districts (no district_code_field mapped)"
            )
        ea = equal_area_crs(*centre_of(np.asarray(self.frame.geometry.values, dtype=object)))
        rows = []
        for code, group in self.frame[self.frame["parent_code"].notna()].groupby("parent_code", sort=True):
            union = shapely.union_all(np.asarray(group.geometry.values, dtype=object))
            rows.append(
                {
                    "code": code,
                    "name": group["parent_name"].iloc[0],
                    "n_units": len(group),
                    "area_km2": float(group["area_km2"].sum()),
                    "geometry": _fill_small_holes(union, ea, self.report.min_area_m2),
                }
            )
        return gpd.GeoDataFrame(rows, geometry="geometry", crs=WGS84)

    def ward_index(self, max_distance_m: float = 2000.0, **kwargs: Any) -> WardIndex:
        """A `WardIndex` over this set's units."""
        from geo.assign import WardIndex

        return WardIndex.build(self.codes, self.frame.geometry.values, max_distance_m, **kwargs)


# ---------------------------------------------------------------------- entry points


def load_boundaries(
    path: str | Path,
    mapping: FieldMapping | None = None,
    *,
    layer: str | int | None = None,
    source_crs: CRS | str | int | None = None,
    allow_duplicate_codes: bool = False,
    min_area_m2: float = 1000.0,
) -> BoundarySet:
    """Read and validate a boundary file (GeoJSON, Shapefile, GeoPackage, ...).

    `layer`: the layer of a multi-layer source (GeoPackage); default its first layer.
    `source_crs`: the CRS of a file that declares none (or declares a wrong one); a file without CRS whose
    coordinates look like lon/lat is taken as EPSG:4326.
    `min_area_m2`: overlaps and gaps up to this area are reported as slivers (default 1000 m², a 30 m square).
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"path: boundary file {str(p)!r} does not exist")
    try:
        frame = pyogrio.read_dataframe(p, layer=layer)
    except pyogrio.errors.DataLayerError as exc:
        raise BoundaryError(f"layer: {layer!r} not readable in {str(p)!r} ({exc})") from None
    except pyogrio.errors.DataSourceError as exc:
        raise BoundaryError(f"path: {str(p)!r} is not a readable vector file ({exc})") from None
    return boundaries_from_frame(
        frame,
        mapping,
        source=p.name if layer is None else f"{p.name}:{layer}",
        source_crs=source_crs,
        allow_duplicate_codes=allow_duplicate_codes,
        min_area_m2=min_area_m2,
    )


def boundaries_from_frame(
    frame: gpd.GeoDataFrame,
    mapping: FieldMapping | None = None,
    *,
    source: str = "<frame>",
    source_crs: CRS | str | int | None = None,
    allow_duplicate_codes: bool = False,
    min_area_m2: float = 1000.0,
) -> BoundarySet:
    """Validate an already-read GeoDataFrame exactly as `load_boundaries` does."""
    m = mapping or FieldMapping()
    if not (math.isfinite(min_area_m2) and min_area_m2 >= 0):
        raise ValueError(f"min_area_m2: {min_area_m2!r} must be a finite number >= 0")
    _check_fields(frame, m, source)
    frame, reprojected_from = _to_wgs84(frame, source, source_crs)

    codes = [_code(v, m.code_field, i, source) for i, v in enumerate(frame[m.code_field])]
    names = [_text(v, f"{source}: field {m.name_field!r} of feature {i}") for i, v in enumerate(frame[m.name_field])]
    for i, (c, n) in enumerate(zip(codes, names, strict=True)):
        if n is None:
            raise BoundaryError(f"{source}: field {m.name_field!r} is empty for feature {i} (code {c!r})")
    unit_types = _column(frame, m.unit_type_field)
    parent_codes = _column(frame, m.district_code_field)
    parent_names = _column(frame, m.district_name_field)

    geoms, repaired, empty = _repair(np.asarray(frame.geometry.values, dtype=object), codes, source)
    counts = Counter(codes)
    duplicates = tuple(sorted((c, n) for c, n in counts.items() if n > 1))

    keep = ~empty
    out = gpd.GeoDataFrame(
        {
            "code": np.array(codes, dtype=object)[keep],
            "name": np.array(names, dtype=object)[keep],
            "unit_type": np.array(unit_types, dtype=object)[keep],
            "parent_code": np.array(parent_codes, dtype=object)[keep],
            "parent_name": np.array(parent_names, dtype=object)[keep],
        },
        geometry=gpd.GeoSeries(geoms[keep], crs=WGS84),
        crs=WGS84,
    )
    _check_parents(out, source)

    kept = np.asarray(out.geometry.values, dtype=object)
    ea = equal_area_crs(*centre_of(kept)) if len(kept) else WGS84
    areas_m2 = shapely.area(project_geometries(kept, ea)) if len(kept) else np.empty(0)
    out["area_km2"] = areas_m2 / 1e6
    out = out[list(FRAME_COLUMNS)]
    all_overlaps = _overlaps(kept, out["code"].tolist(), ea)
    overlap_pairs = [o for o in all_overlaps if o[2] * 1e6 > min_area_m2]
    all_gaps = _gaps(kept, ea)
    gap_areas = [a for a in all_gaps if a * 1e6 > min_area_m2]

    report = BoundaryReport(
        source=source,
        features=len(codes),
        repaired=len(repaired),
        empties=int(empty.sum()),
        duplicate_codes=len(duplicates),
        overlaps=len(overlap_pairs),
        overlap_km2=float(sum(a for _, _, a in overlap_pairs)),
        gaps=len(gap_areas),
        gap_km2=float(sum(gap_areas)),
        sliver_overlaps=len(all_overlaps) - len(overlap_pairs),
        sliver_gaps=len(all_gaps) - len(gap_areas),
        area_km2=float(areas_m2.sum() / 1e6),
        districts=int(out["parent_code"].dropna().nunique()),
        reprojected_from=reprojected_from,
        min_area_m2=float(min_area_m2),
        repaired_codes=tuple(repaired),
        empty_codes=tuple(c for c, e in zip(codes, empty, strict=True) if e),
        duplicates=duplicates,
        overlap_pairs=tuple(overlap_pairs),
        gap_areas_km2=tuple(gap_areas),
    )
    if duplicates and not allow_duplicate_codes:
        raise DuplicateCodeError(dict(duplicates), report)
    return BoundarySet(out.reset_index(drop=True), report)


# ---------------------------------------------------------------------- steps


def _check_fields(frame: gpd.GeoDataFrame, m: FieldMapping, source: str) -> None:
    columns = [c for c in frame.columns if c != frame.geometry.name]
    for option, name in m.fields().items():
        if name in frame.columns:
            continue
        hint = ""
        cut = [c for c in columns if len(name) > 10 and c == name[:10]]
        if cut:
            hint = f"; did you mean {cut[0]!r} (Shapefile field names are cut to 10 characters)?"
        raise BoundaryError(
            f"{source}: {option} {name!r} is not a field of the file (fields: {', '.join(map(repr, columns))}){hint}"
        )


def _to_wgs84(
    frame: gpd.GeoDataFrame, source: str, source_crs: CRS | str | int | None
) -> tuple[gpd.GeoDataFrame, str | None]:
    if source_crs is not None:
        frame = frame.set_crs(CRS.from_user_input(source_crs), allow_override=True)
    if frame.crs is None:
        minx, miny, maxx, maxy = frame.total_bounds
        if not (minx >= -180 and maxx <= 180 and miny >= -90 and maxy <= 90):
            raise BoundaryError(
                f"{source}: the file declares no CRS and its bounds {[minx, miny, maxx, maxy]} are not lon/lat; "
                "pass source_crs"
            )
        return frame.set_crs(WGS84), None
    crs = CRS.from_user_input(frame.crs)
    if crs.equals(WGS84, ignore_axis_order=True):
        return frame.set_crs(WGS84, allow_override=True), None
    return frame.to_crs(WGS84), crs.to_string()


def _text(value: Any, where: str = "") -> str | None:
    """A trimmed NFC string (Vietnamese diacritics may arrive decomposed), or None for null/blank. Text PostgreSQL
    cannot store (NUL, a lone surrogate) is refused naming ``where`` and the value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    try:
        if value is gpd.pd.NA or bool(gpd.pd.isna(value)):
            return None
    except (TypeError, ValueError):
        pass
    text = str(value)
    why = text_problem(text)
    if why is not None:
        raise BoundaryError(f"{where or 'a text attribute'}: value {shown(text)} {why}")
    text = unicodedata.normalize("NFC", text).strip()
    return text or None


def _code(value: Any, field_name: str, i: int, source: str) -> str:
    """A code as text; integral numbers (Shapefile numeric fields) lose their '.0'."""
    if isinstance(value, float | np.floating) and math.isfinite(value) and float(value).is_integer():
        value = int(value)
    text = _text(value, f"{source}: field {field_name!r} of feature {i}")
    if text is None:
        raise BoundaryError(f"{source}: field {field_name!r} is empty for feature {i}")
    return text


def _column(frame: gpd.GeoDataFrame, name: str | None) -> list[str | None]:
    if name is None:
        return [None] * len(frame)
    return [_code(v, name, i, "") if _text(v, f"field {name!r} of feature {i}") is not None else None
            for i, v in enumerate(frame[name])]


def _repair(
    geoms: NDArray[np.object_], codes: list[str], source: str
) -> tuple[NDArray[np.object_], list[str], NDArray[np.bool_]]:
    """Drop Z, repair invalid geometries keeping their polygonal parts; returns (geometries, repaired codes,
    empty mask)."""
    out = np.empty(len(geoms), dtype=object)
    empty = np.zeros(len(geoms), dtype=bool)
    repaired: list[str] = []
    for i, (g, code) in enumerate(zip(geoms, codes, strict=True)):
        if g is None or g.is_empty:
            empty[i] = True
            continue
        g = shapely.force_2d(g)
        if not shapely.is_valid(g):
            g = shapely.make_valid(g, method="structure", keep_collapsed=False)
            repaired.append(code)
        g = _polygonal(g)
        if g is None:
            if not isinstance(geoms[i], shapely.GeometryCollection | shapely.Polygon | shapely.MultiPolygon):
                raise BoundaryError(
                    f"{source}: geometry of {code!r} is a {geoms[i].geom_type}; boundary sets need polygons"
                )
            empty[i] = True
            continue
        out[i] = g
    return out, repaired, empty


def _polygonal(g: shapely.Geometry) -> shapely.Polygon | shapely.MultiPolygon | None:
    if isinstance(g, shapely.Polygon | shapely.MultiPolygon):
        return None if g.is_empty else g
    if isinstance(g, shapely.GeometryCollection):
        parts = [p for p in shapely.get_parts(g) if isinstance(p, shapely.Polygon | shapely.MultiPolygon)]
        if not parts:
            return None
        merged = parts[0] if len(parts) == 1 else shapely.union_all(parts)
        return _polygonal(merged)
    return None


def _check_parents(frame: gpd.GeoDataFrame, source: str) -> None:
    """A district code must always come with the same district name."""
    seen: dict[str, str | None] = {}
    for code, pcode, pname in zip(frame["code"], frame["parent_code"], frame["parent_name"], strict=True):
        if pcode is None:
            continue
        if pcode in seen and seen[pcode] != pname:
            raise BoundaryError(
                f"{source}: district code {pcode!r} has two names, {seen[pcode]!r} and {pname!r} (unit {code!r})"
            )
        seen.setdefault(pcode, pname)


def _overlaps(geoms: NDArray[np.object_], codes: list[str], ea: CRS) -> list[tuple[str, str, float]]:
    """Pairs of features whose interiors overlap (with a positive area), as (code, code, km²)."""
    if len(geoms) < 2:
        return []
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    first = left < right
    left, right = left[first], right[first]
    interiors = shapely.relate_pattern(geoms[left], geoms[right], "T********")
    left, right = left[interiors], right[interiors]
    if left.size == 0:
        return []
    pieces = shapely.intersection(geoms[left], geoms[right])
    areas = shapely.area(project_geometries(pieces, ea))
    return [
        (codes[a], codes[b], float(area) / 1e6)
        for a, b, area in zip(left.tolist(), right.tolist(), areas, strict=True)
        if area > 0
    ]


def _gaps(geoms: NDArray[np.object_], ea: CRS) -> list[float]:
    """Areas (km²) of the holes of the union of all features."""
    if len(geoms) == 0:
        return []
    union = shapely.union_all(geoms)
    holes = [
        shapely.Polygon(ring)
        for poly in shapely.get_parts(union)
        if isinstance(poly, shapely.Polygon)
        for ring in poly.interiors
    ]
    if not holes:
        return []
    areas = shapely.area(project_geometries(np.array(holes, dtype=object), ea))
    return [float(a) / 1e6 for a in areas if a > 0]


def _fill_small_holes(geom: shapely.Geometry, ea: CRS, max_area_m2: float) -> shapely.Geometry:
    """The polygon(s) without interior rings of at most max_area_m2 (measured in the equal-area CRS `ea`)."""
    polys = []
    for poly in shapely.get_parts(geom):
        if not isinstance(poly, shapely.Polygon) or not poly.interiors:
            polys.append(poly)
            continue
        rings = list(poly.interiors)
        areas = shapely.area(
            project_geometries(np.array([shapely.Polygon(r) for r in rings], dtype=object), ea)
        )
        kept = [r for r, a in zip(rings, areas, strict=True) if a > max_area_m2]
        polys.append(shapely.Polygon(poly.exterior, kept))
    return polys[0] if len(polys) == 1 else shapely.MultiPolygon(polys)
