"""Ward assignment: real Cà Mau sets (2019 and 2025) and small hand-made sets with known answers."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
import shapely

from geo.assign import APPROXIMATE, INSIDE, OUTSIDE, Assignment, WardIndex
from geo.boundaries import CAMAU_2019, BoundarySet, load_boundaries
from geo.projection import WGS84, project_geometries, transformer

REPO = Path(__file__).resolve().parents[2]
CAMAU = Path(os.environ.get("OPS_DATA_DIR", REPO.parent / "shared" / "data")) / "camau"
HANOI = (105.85, 21.03)


@pytest.fixture(scope="module")
def sets() -> dict[str, BoundarySet]:
    return {
        "2019": load_boundaries(CAMAU / "wards_2019.geojson", CAMAU_2019),
        "2025": load_boundaries(CAMAU / "wards_2025.geojson"),
    }


@pytest.fixture(scope="module")
def indexes(sets: dict[str, BoundarySet]) -> dict[str, WardIndex]:
    return {year: s.ward_index() for year, s in sets.items()}


YEARS = ["2019", "2025"]


def _metric_polygons(index: WardIndex) -> np.ndarray:
    return project_geometries(index.geometries, index.metric_crs)


def _to_lon_lat(index: WardIndex, x: float, y: float) -> tuple[float, float]:
    lon, lat = transformer(index.metric_crs, WGS84).transform(x, y)
    return float(lon), float(lat)


def _brute_nearest(index: WardIndex, lon: float, lat: float) -> tuple[str, float]:
    """Nearest ward and its distance in metres, by measuring every ward."""
    x, y = transformer(WGS84, index.metric_crs).transform(lon, lat)
    d = shapely.distance(shapely.Point(x, y), _metric_polygons(index))
    k = int(np.argmin(d))
    return index.codes[k], float(d[k])


# ---------------------------------------------------------------------- the real sets


@pytest.mark.parametrize("year", YEARS)
def test_representative_point_of_each_ward_is_assigned_to_it(
    year: str, sets: dict[str, BoundarySet], indexes: dict[str, WardIndex]
) -> None:
    frame, index = sets[year].frame, indexes[year]
    rp = shapely.point_on_surface(np.asarray(frame.geometry.values, dtype=object))
    lon, lat = shapely.get_x(rp), shapely.get_y(rp)
    codes, status, dist = index.assign_bulk(lon, lat)
    assert codes.tolist() == frame["code"].tolist()
    assert set(status.tolist()) == {"inside"} and np.all(dist == 0.0)
    for code, x, y in zip(frame["code"], lon, lat, strict=True):
        assert index.assign_one(x, y) == Assignment(code, "inside", 0.0)


@pytest.mark.parametrize("year", YEARS)
def test_point_off_the_coast_is_approximate(year: str, indexes: dict[str, WardIndex]) -> None:
    index = indexes[year]
    coords = shapely.get_coordinates(_metric_polygons(index))
    # South of the southernmost vertex and west of the westernmost one, nothing of the set is closer than the
    # offset: the exact distance is known.
    south = coords[np.argmin(coords[:, 1])]
    west = coords[np.argmin(coords[:, 0])]
    for (x, y), offset, direction in (
        (south, 500.0, (0.0, -1.0)),
        (west, 300.0, (-1.0, 0.0)),
        (south, 1900.0, (0.0, -1.0)),
    ):
        lon, lat = _to_lon_lat(index, x + direction[0] * offset, y + direction[1] * offset)
        expected_code, expected_d = _brute_nearest(index, lon, lat)
        assert expected_d == pytest.approx(offset, abs=0.01)
        one = index.assign_one(lon, lat)
        assert one.status == "approximate" and one.code == expected_code
        assert one.distance_m == pytest.approx(offset, abs=0.01)
        codes, status, dist = index.assign_bulk([lon], [lat])
        assert (codes[0], status[0]) == (expected_code, "approximate")
        assert dist[0] == pytest.approx(offset, abs=0.01)
    # Beyond the 2 km default the point is outside.
    lon, lat = _to_lon_lat(index, south[0], south[1] - 2100.0)
    assert index.assign_one(lon, lat).status == "outside"
    assert index.assign_bulk([lon], [lat])[1][0] == "outside"


@pytest.mark.parametrize("year", YEARS)
def test_hanoi_is_outside(year: str, indexes: dict[str, WardIndex]) -> None:
    index = indexes[year]
    one = index.assign_one(*HANOI)
    assert one.code is None and one.status == "outside" and math.isnan(one.distance_m)
    codes, status, dist = index.assign_bulk([HANOI[0]], [HANOI[1]])
    assert codes[0] is None and status[0] == "outside" and np.isnan(dist[0])


@pytest.mark.parametrize("year", YEARS)
def test_bulk_agrees_with_bare_shapely_and_brute_force(year: str, indexes: dict[str, WardIndex]) -> None:
    index = indexes[year]
    geoms = index.geometries
    minx, miny, maxx, maxy = shapely.total_bounds(geoms)
    rng = np.random.default_rng(96)
    n = 20_000
    lon, lat = rng.uniform(minx - 0.05, maxx + 0.05, n), rng.uniform(miny - 0.05, maxy + 0.05, n)
    ward, status, dist = index.assign_indices(lon, lat)

    # Inside: the same ward as a plain STRtree query (first listed ward on a shared border).
    pt, wd = shapely.STRtree(geoms).query(shapely.points(lon, lat), predicate="intersects")
    reference = np.full(n, -1)
    order = np.lexsort((-wd, pt))
    reference[pt[order]] = wd[order]
    assert np.array_equal(status == INSIDE, reference >= 0)
    assert np.array_equal(ward[status == INSIDE], reference[reference >= 0])
    assert np.all(dist[status == INSIDE] == 0.0)

    # Not inside: measured against every ward.
    approx = np.flatnonzero(status == APPROXIMATE)
    outside = np.flatnonzero(status == OUTSIDE)
    assert approx.size > 50 and outside.size > 50
    assert np.all(ward[outside] == -1) and np.all(np.isnan(dist[outside]))
    for i in approx[:60]:
        code, d = _brute_nearest(index, lon[i], lat[i])
        assert index.codes[ward[i]] == code and dist[i] == pytest.approx(d, abs=1e-6) and 0 < d <= 2000
    metric = project_geometries(geoms, index.metric_crs)
    xm, ym = transformer(WGS84, index.metric_crs).transform(lon[outside], lat[outside])
    within_reach = shapely.STRtree(metric).query(shapely.points(xm, ym), predicate="dwithin", distance=2000)
    assert within_reach.shape[1] == 0

    # One at a time gives the same answers.
    codes, names, dists = index.assign_bulk(lon, lat)
    for i in range(0, n, 37):
        one = index.assign_one(lon[i], lat[i])
        assert (one.code, one.status) == (codes[i], names[i])
        assert one.distance_m == pytest.approx(dists[i], abs=1e-6, nan_ok=True)


def test_from_wkb_gives_the_same_answers(sets: dict[str, BoundarySet], indexes: dict[str, WardIndex]) -> None:
    frame = sets["2025"].frame
    wkbs = shapely.to_wkb(np.asarray(frame.geometry.values, dtype=object))
    rows = [memoryview(w) if i % 3 == 0 else (w.hex() if i % 3 == 1 else w) for i, w in enumerate(wkbs)]
    index = WardIndex.from_wkb(frame["code"].tolist(), rows)
    rng = np.random.default_rng(5)
    lon, lat = rng.uniform(104.5, 105.9, 5000), rng.uniform(8.3, 9.7, 5000)
    for ours, theirs in zip(index.assign_bulk(lon, lat), indexes["2025"].assign_bulk(lon, lat), strict=True):
        assert np.array_equal(ours, theirs, equal_nan=ours.dtype.kind == "f")


# ---------------------------------------------------------------------- hand-made sets


def _two_squares(gap_deg: float = 0.0) -> WardIndex:
    a = shapely.box(105.0, 9.0, 105.01, 9.01)
    b = shapely.box(105.01 + gap_deg, 9.0, 105.02 + gap_deg, 9.01)
    return WardIndex.build(["A", "B"], [a, b])


def test_shared_border_goes_to_the_first_ward_and_gaps_to_the_nearest() -> None:
    touching = _two_squares()
    assert touching.assign_one(105.01, 9.005) == Assignment("A", "inside", 0.0)
    assert touching.assign_bulk([105.01], [9.005])[0][0] == "A"
    # A 0.002° (about 220 m) gap between the squares: a point in it, nearer B, is approximate.
    apart = _two_squares(0.002)
    one = apart.assign_one(105.0115, 9.005)
    assert one.code == "B" and one.status == "approximate" and 50 < one.distance_m < 60


def test_max_distance_zero_disables_the_fallback() -> None:
    index = WardIndex.build(["A"], [shapely.box(105.0, 9.0, 105.01, 9.01)], max_distance_m=0)
    assert index.assign_one(105.0101, 9.005).status == "outside"
    assert index.assign_bulk([105.0101, 105.005], [9.005, 9.005])[1].tolist() == ["outside", "inside"]


def test_ward_with_a_hole_and_an_enclave() -> None:
    outer = shapely.box(105.0, 9.0, 105.03, 9.03).difference(shapely.box(105.01, 9.01, 105.02, 9.02))
    enclave = shapely.box(105.012, 9.012, 105.018, 9.018)  # inside the hole, leaving a ring of gap around it
    index = WardIndex.build(["O", "E"], [outer, enclave], cell_size_m=100)
    assert index.assign_one(105.015, 9.015).code == "E"
    assert index.assign_one(105.005, 9.005).code == "O"
    gap = index.assign_one(105.0105, 9.015)  # in the hole, 0.0005° from O, 0.0015° from E
    assert gap.code == "O" and gap.status == "approximate"
    codes, status, _ = index.assign_bulk([105.015, 105.005, 105.0105], [9.015, 9.005, 9.015])
    assert codes.tolist() == ["E", "O", "O"] and status.tolist() == ["inside", "inside", "approximate"]


def test_bad_input_is_named() -> None:
    index = _two_squares()
    with pytest.raises(ValueError, match=r"lon\[1\]: nan"):
        index.assign_bulk([105.0, float("nan")], [9.0, 9.0])
    with pytest.raises(ValueError, match=r"lat\[0\]: 95.0"):
        index.assign_bulk([105.0], [95.0])
    with pytest.raises(ValueError, match="equal length"):
        index.assign_bulk([105.0, 105.0], [9.0])
    with pytest.raises(ValueError, match="lon: 'abc'"):
        index.assign_one("abc", 9.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="lat: 91"):
        index.assign_one(105.0, 91)

    square = shapely.box(105.0, 9.0, 105.01, 9.01)
    with pytest.raises(ValueError, match="duplicate ward code 'A'"):
        WardIndex.build(["A", "A"], [square, square])
    bow_tie = shapely.Polygon([(105, 9), (105.01, 9.01), (105.01, 9), (105, 9.01), (105, 9)])
    with pytest.raises(ValueError, match="ward 'X': invalid"):
        WardIndex.build(["X"], [bow_tie])
    with pytest.raises(ValueError, match="ward 'L': LineString given"):
        WardIndex.build(["L"], [shapely.LineString([(105, 9), (105.1, 9.1)])])
    with pytest.raises(ValueError, match=r"ward 'M': bounds .* not lon/lat"):
        WardIndex.build(["M"], [shapely.box(500_000, 1_000_000, 501_000, 1_001_000)])
    with pytest.raises(ValueError, match="max_distance_m: -1"):
        WardIndex.build(["A"], [square], max_distance_m=-1)
    with pytest.raises(ValueError, match="wkb of ward 'W': not valid WKB"):
        WardIndex.from_wkb(["W"], [b"\x01\x02garbage"])
    with pytest.raises(ValueError, match="metric_crs"):
        WardIndex.build(["A"], [square], metric_crs=4326)


def test_empty_input_gives_empty_arrays() -> None:
    codes, status, dist = _two_squares().assign_bulk([], [])
    assert codes.shape == status.shape == dist.shape == (0,)
