"""Area-weighted crosswalk: 2019 ↔ 2025 Cà Mau wards, and hand-made sets with exact answers."""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geo.boundaries import CAMAU_2019, BoundarySet, load_boundaries
from geo.crosswalk import Crosswalk, crosswalk
from geo.projection import equal_area_crs, project_polygons

REPO = Path(__file__).resolve().parents[2]
CAMAU = Path(os.environ.get("OPS_DATA_DIR", REPO.parent / "shared" / "data")) / "camau"


@pytest.fixture(scope="module")
def wards_2019() -> BoundarySet:
    return load_boundaries(CAMAU / "wards_2019.geojson", CAMAU_2019)


@pytest.fixture(scope="module")
def wards_2025() -> BoundarySet:
    return load_boundaries(CAMAU / "wards_2025.geojson")


@pytest.fixture(scope="module")
def cw_2019_2025(wards_2019: BoundarySet, wards_2025: BoundarySet) -> Crosswalk:
    return crosswalk(wards_2019, wards_2025)


def _frame(units: dict[str, shapely.Geometry]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"code": list(units)}, geometry=list(units.values()), crs=4326)


def test_fractions_of_each_2019_ward_sum_to_one(cw_2019_2025: Crosswalk, wards_2019: BoundarySet) -> None:
    cw = cw_2019_2025
    assert set(cw.covered) == set(wards_2019.codes)
    sums: dict[str, float] = {}
    shares: dict[str, float] = {}
    for r in cw.rows:
        assert 0 < r.fraction <= 1 and 0 < r.area_share <= 1
        sums[r.from_code] = sums.get(r.from_code, 0.0) + r.fraction
        shares[r.from_code] = shares.get(r.from_code, 0.0) + r.area_share
    # Old Cà Mau lies inside the merged 2025 province: every 2019 ward is covered, if not to the last metre
    # (the 2019 coastline is generalised and reaches into the sea).
    assert set(sums) == set(wards_2019.codes)
    for code in wards_2019.codes:
        assert sums[code] == pytest.approx(1.0, abs=0.01)
        assert shares[code] + cw.uncovered(code) == pytest.approx(1.0, abs=1e-6)  # 2025 slivers
        assert cw.covered[code] > 0.75
    assert np.median(list(cw.covered.values())) > 0.99


def test_covered_share_matches_the_union_of_the_other_set(
    cw_2019_2025: Crosswalk, wards_2019: BoundarySet, wards_2025: BoundarySet
) -> None:
    # Computed independently: each 2019 ward against the union of all 2025 wards.
    ea = equal_area_crs(105.2, 9.0)
    old = project_polygons(np.asarray(wards_2019.frame.geometry.values, dtype=object), ea)
    new_union = shapely.union_all(
        project_polygons(np.asarray(wards_2025.frame.geometry.values, dtype=object), ea)
    )
    inside = shapely.area(shapely.intersection(old, new_union)) / shapely.area(old)
    for code, share in zip(wards_2019.codes, inside, strict=True):
        assert cw_2019_2025.covered[code] == pytest.approx(share, abs=0.01), code


def test_counts_move_between_sets(cw_2019_2025: Crosswalk, wards_2019: BoundarySet) -> None:
    counts = {code: float(i + 1) for i, code in enumerate(wards_2019.codes)}
    moved, unplaced = cw_2019_2025.apply(counts)
    assert unplaced == 0.0
    assert sum(moved.values()) == pytest.approx(sum(counts.values()), rel=1e-9)
    with pytest.raises(KeyError, match="'99999'"):
        cw_2019_2025.apply({"99999": 1.0})


def test_bac_lieu_wards_have_no_2019_counterpart(wards_2019: BoundarySet, wards_2025: BoundarySet) -> None:
    back = crosswalk(wards_2025, wards_2019)
    bac_lieu = wards_2025.frame.set_index("name").loc["Phường Bạc Liêu", "code"]
    assert back.uncovered(bac_lieu) == pytest.approx(1.0)
    assert back.fractions(bac_lieu) == {}
    moved, unplaced = back.apply({bac_lieu: 10.0})
    assert moved == {} and unplaced == 10.0
    for code, covered in back.covered.items():
        if covered > 0:
            assert sum(back.fractions(code).values()) == pytest.approx(1.0, abs=1e-9)


def test_exact_fractions_on_squares() -> None:
    d = 0.01
    old = _frame({"P": shapely.box(105.0, 9.0, 105.0 + 2 * d, 9.0 + d)})  # half of it lies in no new unit
    new = _frame(
        {
            "L": shapely.box(105.0, 9.0, 105.0 + d / 2, 9.0 + d),
            "R": shapely.box(105.0 + d / 2, 9.0, 105.0 + d, 9.0 + d),
        }
    )
    cw = crosswalk(old, new)
    assert cw.uncovered("P") == pytest.approx(0.5, abs=1e-3)
    fractions = cw.fractions("P")
    assert fractions.keys() == {"L", "R"}
    assert fractions["L"] == pytest.approx(0.5, abs=1e-3) and sum(fractions.values()) == pytest.approx(1.0)
    assert {r.to_code: r.area_share for r in cw.rows}["L"] == pytest.approx(0.25, abs=1e-3)
    assert cw.pairs()[0][0] == "P"


def test_min_fraction_drops_slivers_and_rescales() -> None:
    old = _frame({"P": shapely.box(105.0, 9.0, 105.01, 9.01)})
    new = _frame(
        {"BIG": shapely.box(105.0, 9.0, 105.0099, 9.01), "SLIVER": shapely.box(105.0099, 9.0, 105.02, 9.01)}
    )
    assert crosswalk(old, new).fractions("P")["SLIVER"] == pytest.approx(0.01, rel=1e-2)
    kept = crosswalk(old, new, min_fraction=0.05)
    assert kept.fractions("P") == {"BIG": pytest.approx(1.0)}


def test_bad_frames_are_named() -> None:
    square = shapely.box(105.0, 9.0, 105.01, 9.01)
    good = _frame({"A": square})
    dup = gpd.GeoDataFrame({"code": ["A", "A"]}, geometry=[square, square], crs=4326)
    with pytest.raises(ValueError, match="from_frame: duplicate code 'A'"):
        crosswalk(dup, good)
    with pytest.raises(ValueError, match="to_frame: no column 'ma'"):
        crosswalk(good, good, to_code_column="ma")
    with pytest.raises(ValueError, match="to_frame: the frame has no CRS"):
        crosswalk(good, gpd.GeoDataFrame({"code": ["A"]}, geometry=[square]))
    with pytest.raises(ValueError, match=r"min_fraction: 1\.5"):
        crosswalk(good, good, min_fraction=1.5)
