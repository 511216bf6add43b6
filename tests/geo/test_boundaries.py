"""Boundary loading and validation on the real Cà Mau files and on small hand-made files."""

from __future__ import annotations

import json
import os
import unicodedata
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from pyproj import Geod

from geo.boundaries import (
    CAMAU_2019,
    DISTRICTS_2019,
    BoundaryError,
    BoundarySet,
    DuplicateCodeError,
    FieldMapping,
    boundaries_from_frame,
    load_boundaries,
)
from geo.projection import equal_area_crs, project_geometries

REPO = Path(__file__).resolve().parents[2]
CAMAU = Path(os.environ.get("OPS_DATA_DIR", REPO.parent / "shared" / "data")) / "camau"
GEOD = Geod(ellps="WGS84")


@pytest.fixture(scope="module")
def wards_2019() -> BoundarySet:
    return load_boundaries(CAMAU / "wards_2019.geojson", CAMAU_2019)


@pytest.fixture(scope="module")
def wards_2025() -> BoundarySet:
    return load_boundaries(CAMAU / "wards_2025.geojson")


def _write_geojson(path: Path, features: list[tuple[dict[str, object], shapely.Geometry | None]]) -> Path:
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": props,
                "geometry": None if geom is None else shapely.geometry.mapping(geom),
            }
            for props, geom in features
        ],
    }
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def _sym_diff_ratio(a: shapely.Geometry, b: shapely.Geometry) -> float:
    ea = equal_area_crs(*shapely.centroid(a).coords[0])
    diff, whole = project_geometries(np.array([shapely.symmetric_difference(a, b), a], dtype=object), ea)
    return float(shapely.area(diff) / shapely.area(whole))


# ---------------------------------------------------------------------- the real files


def test_2019_set_has_101_wards_in_9_districts(wards_2019: BoundarySet) -> None:
    r = wards_2019.report
    assert len(wards_2019) == 101 and r.features == 101
    assert r.districts == 9 and wards_2019.frame["parent_code"].nunique() == 9
    assert (r.repaired, r.empties, r.duplicate_codes, r.reprojected_from) == (0, 0, 0, None)
    assert wards_2019.frame["unit_type"].value_counts().to_dict() == {"Xã": 82, "Phường": 10, "Thị trấn": 9}
    assert wards_2019.frame["code"].is_unique
    assert wards_2019.frame.crs.to_epsg() == 4326
    # Diacritics arrive intact and composed (NFC).
    assert "Thành phố Cà Mau" in set(wards_2019.frame["parent_name"])
    assert all(unicodedata.is_normalized("NFC", n) for n in wards_2019.frame["name"])
    # The partition is clean up to slivers of digitising noise.
    assert r.overlaps == 0 and r.gaps == 0
    assert 5200 < r.area_km2 < 5300


def test_2025_set_has_64_wards_and_no_districts(wards_2025: BoundarySet) -> None:
    r = wards_2025.report
    assert len(wards_2025) == 64
    assert r.districts == 0 and not wards_2025.has_districts
    assert wards_2025.frame["unit_type"].value_counts().to_dict() == {"Xã": 55, "Phường": 9}
    assert "Phường Bạc Liêu" in set(wards_2025.frame["name"])
    # The merged province (Cà Mau + Bạc Liêu) is larger than the 2019 one.
    assert 7500 < r.area_km2 < 7700
    assert r.overlaps == 0 and r.gaps == 0
    with pytest.raises(BoundaryError, match="no districts"):
        wards_2025.districts()


def test_each_2019_district_is_the_union_of_its_wards(wards_2019: BoundarySet) -> None:
    districts = load_boundaries(CAMAU / "districts_2019.geojson", DISTRICTS_2019)
    assert len(districts) == 9
    from_wards = wards_2019.districts().set_index("code")
    assert sorted(from_wards.index) == sorted(districts.codes)
    assert int(from_wards["n_units"].sum()) == 101
    for row in districts.frame.itertuples(index=False):
        assert from_wards.loc[row.code, "name"] == row.name
        assert _sym_diff_ratio(row.geometry, from_wards.loc[row.code, "geometry"]) < 1e-4, row.code


def test_features_and_wkb(wards_2019: BoundarySet) -> None:
    features = wards_2019.features()
    assert len(features) == 101
    f = next(f for f in features if f.code == wards_2019.codes[0])
    assert f.parent_code is not None and f.parent_name is not None
    assert shapely.from_wkb(f.wkb).equals(f.geometry)
    assert f.area_km2 > 0


def test_shapefile_and_geopackage_load_the_same(tmp_path: Path, wards_2019: BoundarySet) -> None:
    raw = pyogrio.read_dataframe(CAMAU / "wards_2019.geojson")
    shp, gpkg = tmp_path / "wards.shp", tmp_path / "wards.gpkg"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pyogrio.write_dataframe(raw, shp, encoding="UTF-8")
    assert any("'district_code' to 'district_c'" in str(w.message) for w in caught)
    pyogrio.write_dataframe(raw, gpkg, layer="wards")

    # Shapefile field names are cut to 10 characters: the error says so, the short names load.
    with pytest.raises(BoundaryError, match=r"'district_code'.*did you mean 'district_c'"):
        load_boundaries(shp, CAMAU_2019)
    from_shp = load_boundaries(
        shp, FieldMapping(district_code_field="district_c", district_name_field="district_n")
    )
    from_gpkg = load_boundaries(gpkg, CAMAU_2019, layer="wards")

    reference = wards_2019.frame.set_index("code")
    for loaded in (from_shp, from_gpkg):
        assert len(loaded) == 101 and loaded.report.districts == 9
        frame = loaded.frame.set_index("code")
        assert sorted(frame.index) == sorted(reference.index)
        for column in ("name", "unit_type", "parent_code", "parent_name"):
            assert frame[column].to_dict() == reference[column].to_dict(), column
        for code, geom in frame.geometry.items():
            assert shapely.equals(geom, reference.loc[code, "geometry"]), code
        assert loaded.report.area_km2 == pytest.approx(wards_2019.report.area_km2, rel=1e-9)


def test_file_in_vn2000_utm_is_reprojected(tmp_path: Path, wards_2025: BoundarySet) -> None:
    raw = pyogrio.read_dataframe(CAMAU / "wards_2025.geojson").to_crs(3405)
    path = tmp_path / "wards_3405.gpkg"
    pyogrio.write_dataframe(raw, path)
    loaded = load_boundaries(path)
    assert loaded.report.reprojected_from == "EPSG:3405"
    assert loaded.frame.crs.to_epsg() == 4326
    minx, miny, maxx, maxy = loaded.frame.total_bounds
    assert 104 < minx < maxx < 106.5 and 8 < miny < maxy < 10
    reference = wards_2025.frame.set_index("code").geometry
    for code, geom in loaded.frame.set_index("code").geometry.items():
        # The VN-2000 datum shift and back agree to well under a metre (1e-5 degree).
        assert shapely.hausdorff_distance(geom, reference[code]) < 1e-5, code
    assert loaded.report.area_km2 == pytest.approx(wards_2025.report.area_km2, rel=1e-6)


# ---------------------------------------------------------------------- hand-made files


def test_duplicate_code_is_refused_naming_the_code(tmp_path: Path) -> None:
    path = _write_geojson(
        tmp_path / "dup.geojson",
        [
            ({"ward_code": "32002", "ward_name": "Phường 4"}, shapely.box(105.15, 9.17, 105.16, 9.18)),
            (
                {"ward_code": "32002", "ward_name": "Phường 4 (bản sao)"},
                shapely.box(105.16, 9.17, 105.17, 9.18),
            ),
            ({"ward_code": "32005", "ward_name": "Phường 1"}, shapely.box(105.17, 9.17, 105.18, 9.18)),
        ],
    )
    mapping = FieldMapping(unit_type_field=None)
    with pytest.raises(DuplicateCodeError, match="'32002'") as err:
        load_boundaries(path, mapping)
    assert err.value.codes == {"32002": 2}
    assert err.value.report.duplicate_codes == 1
    inspected = load_boundaries(path, mapping, allow_duplicate_codes=True)
    assert inspected.report.duplicates == (("32002", 2),)


def test_bow_tie_is_repaired_and_counted(tmp_path: Path) -> None:
    bow_tie = shapely.Polygon([(105.0, 9.0), (105.02, 9.02), (105.02, 9.0), (105.0, 9.02), (105.0, 9.0)])
    assert not bow_tie.is_valid
    path = _write_geojson(
        tmp_path / "bowtie.geojson",
        [
            ({"ward_code": "1", "ward_name": "Xã Nơ", "unit_type": "Xã"}, bow_tie),
            (
                {"ward_code": "2", "ward_name": "Xã Vuông", "unit_type": "Xã"},
                shapely.box(105.03, 9.0, 105.05, 9.02),
            ),
        ],
    )
    loaded = load_boundaries(path)
    assert loaded.report.repaired == 1 and loaded.report.repaired_codes == ("1",)
    geom = loaded.frame.set_index("code").geometry["1"]
    assert geom.is_valid and geom.geom_type == "MultiPolygon" and len(geom.geoms) == 2
    assert geom.area == pytest.approx(bow_tie.buffer(0).area * 2, rel=1e-9)  # both triangles kept


def test_missing_mapped_field_names_the_field(tmp_path: Path) -> None:
    path = _write_geojson(
        tmp_path / "w.geojson", [({"ma_xa": "1", "ten_xa": "Xã Một"}, shapely.box(105.0, 9.0, 105.01, 9.01))]
    )
    with pytest.raises(BoundaryError, match="code_field 'ward_code' is not a field"):
        load_boundaries(path)
    with pytest.raises(BoundaryError, match="district_code_field 'ma_huyen'"):
        load_boundaries(path, FieldMapping("ma_xa", "ten_xa", None, district_code_field="ma_huyen"))
    loaded = load_boundaries(
        path, FieldMapping(code_field="ma_xa", name_field="ten_xa", unit_type_field=None)
    )
    assert loaded.codes == ["1"] and loaded.frame["name"].tolist() == ["Xã Một"]


def test_empty_geometry_is_counted_and_dropped(tmp_path: Path) -> None:
    path = _write_geojson(
        tmp_path / "w.geojson",
        [
            ({"ward_code": "1", "ward_name": "Xã Một"}, shapely.box(105.0, 9.0, 105.01, 9.01)),
            ({"ward_code": "2", "ward_name": "Xã Hai"}, None),
        ],
    )
    loaded = load_boundaries(path, FieldMapping(unit_type_field=None))
    assert loaded.report.features == 2 and loaded.report.empties == 1 and loaded.report.empty_codes == ("2",)
    assert loaded.codes == ["1"]


def test_overlaps_and_gaps_are_measured(tmp_path: Path) -> None:
    # Four strips around an empty square (a gap), and a fifth unit overlapping the west strip.
    d = 0.01
    units = {
        "S": shapely.box(105.0, 9.0, 105.0 + 3 * d, 9.0 + d),
        "N": shapely.box(105.0, 9.0 + 2 * d, 105.0 + 3 * d, 9.0 + 3 * d),
        "W": shapely.box(105.0, 9.0 + d, 105.0 + d, 9.0 + 2 * d),
        "E": shapely.box(105.0 + 2 * d, 9.0 + d, 105.0 + 3 * d, 9.0 + 2 * d),
        "X": shapely.box(105.0 - d, 9.0 + d, 105.0 + d / 2, 9.0 + 2 * d),
    }
    path = _write_geojson(
        tmp_path / "w.geojson", [({"ward_code": c, "ward_name": f"Xã {c}"}, g) for c, g in units.items()]
    )
    r = load_boundaries(path, FieldMapping(unit_type_field=None)).report

    def km2(g: shapely.Geometry) -> float:
        return abs(GEOD.geometry_area_perimeter(g)[0]) / 1e6

    hole = shapely.box(105.0 + d, 9.0 + d, 105.0 + 2 * d, 9.0 + 2 * d)
    assert r.gaps == 1 and r.gap_km2 == pytest.approx(km2(hole), rel=1e-3)
    assert r.overlaps == 1 and r.overlap_pairs[0][:2] == ("W", "X")
    assert r.overlap_km2 == pytest.approx(km2(units["W"].intersection(units["X"])), rel=1e-3)
    assert r.area_km2 == pytest.approx(sum(km2(g) for g in units.values()), rel=1e-3)


def test_decomposed_names_are_composed_and_numeric_codes_are_text(tmp_path: Path) -> None:
    decomposed = unicodedata.normalize("NFD", "Xã Tân Hưng Đông")
    frame = gpd.GeoDataFrame(
        {"ward_code": [32137.0], "ward_name": [decomposed]}, geometry=[shapely.box(105.0, 9.0, 105.01, 9.01)]
    )
    loaded = boundaries_from_frame(frame, FieldMapping(unit_type_field=None))  # no CRS, lon/lat bounds
    assert loaded.codes == ["32137"]
    assert loaded.frame["name"].iloc[0] == unicodedata.normalize("NFC", "Xã Tân Hưng Đông")


def test_frame_without_crs_in_metres_needs_source_crs() -> None:
    frame = gpd.GeoDataFrame(
        {"ward_code": ["1"], "ward_name": ["Xã Một"]},
        geometry=[shapely.box(500_000, 1_000_000, 501_000, 1_001_000)],
    )
    mapping = FieldMapping(unit_type_field=None)
    with pytest.raises(BoundaryError, match=r"no CRS.*source_crs"):
        boundaries_from_frame(frame, mapping)
    loaded = boundaries_from_frame(frame, mapping, source_crs=32648)
    assert loaded.report.reprojected_from == "EPSG:32648"
    assert loaded.report.area_km2 == pytest.approx(1.0, rel=2e-3)  # UTM scale factor near 0.9996


def test_missing_file_and_empty_code_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.geojson"):
        load_boundaries(tmp_path / "nope.geojson")
    path = _write_geojson(
        tmp_path / "w.geojson",
        [({"ward_code": " ", "ward_name": "Xã Một"}, shapely.box(105.0, 9.0, 105.01, 9.01))],
    )
    with pytest.raises(BoundaryError, match="'ward_code' is empty for feature 0"):
        load_boundaries(path, FieldMapping(unit_type_field=None))


def test_point_geometry_is_refused(tmp_path: Path) -> None:
    path = _write_geojson(
        tmp_path / "w.geojson", [({"ward_code": "1", "ward_name": "A"}, shapely.Point(105, 9))]
    )
    with pytest.raises(BoundaryError, match="'1' is a Point"):
        load_boundaries(path, FieldMapping(unit_type_field=None))
