"""Boundary sets in the database on the real Cà Mau files: counts, validity, the set in force, assignment through
the cached index, bulk device assignment, re-import, crosswalk, ensure-demo idempotence, and refusals."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
import shapely

from geo import service, store
from geo.demo import ensure_demo
from geo.projection import WGS84, equal_area_crs, project_geometries, transformer
from geo.store import GeoStoreError, SetNotFound, ValidityOverlap
from ops_center.db import Conn
from ops_center.settings import Settings
from tests.geo.dbsupport import HANOI, add_device, camau, grid_set, uid, unit_row  # noqa: F401

pytestmark = pytest.mark.usefixtures("camau")


def _units(conn: Conn, set_name: str, level: str) -> list[store.Unit]:
    return store.load_units(conn, set_name, level)


def test_camau_sets_have_the_official_unit_counts(db: Conn) -> None:
    sets = {s.name: s for s in store.list_sets(db)}
    assert sets["camau-2019"].levels == {"ward": 101, "district": 9}
    assert sets["camau-2025"].levels == {"ward": 64}
    assert sets["camau-2019"].valid_to == date(2025, 6, 30)
    assert sets["camau-2025"].valid_from == date(2025, 7, 1) and sets["camau-2025"].valid_to is None
    rep = sets["camau-2019"].report["ward"]
    assert rep["features"] == 101 and rep["duplicate_codes"] == 0 and rep["districts"] == 9
    assert len(rep["sha256"]) == 64
    names = {u.name for u in _units(db, "camau-2019", "district")}
    assert "Thành phố Cà Mau" in names
    types = [u.unit_type for u in _units(db, "camau-2019", "ward")]
    assert (types.count("Xã"), types.count("Phường"), types.count("Thị trấn")) == (82, 10, 9)
    types25 = [u.unit_type for u in _units(db, "camau-2025", "ward")]
    assert (types25.count("Xã"), types25.count("Phường")) == (55, 9)


def test_each_ward_names_an_existing_district_and_districts_are_unions_of_their_wards(db: Conn) -> None:
    wards = _units(db, "camau-2019", "ward")
    districts = {u.code: u for u in _units(db, "camau-2019", "district")}
    assert {w.parent_code for w in wards} == set(districts)
    ea = equal_area_crs(105.0, 9.0)
    for code, d in districts.items():
        mine = [shapely.from_wkb(w.geom) for w in wards if w.parent_code == code]
        union = shapely.union_all(mine)
        dg = shapely.from_wkb(d.geom)
        diff, whole = project_geometries(np.array([shapely.symmetric_difference(union, dg), dg]), ea)
        assert diff.area / whole.area < 1e-4, (code, diff.area / whole.area)
        assert {w.parent_name for w in wards if w.parent_code == code} == {d.name}


def test_set_in_force_follows_the_validity_dates(db: Conn) -> None:
    assert service.set_in_force(db, datetime(2020, 3, 1, tzinfo=UTC)) == "camau-2019"
    # 2025-06-30 23:30 in Việt Nam is still the 2019 set; 2025-07-01 00:30 local (2025-06-30 17:30 UTC) is 2025.
    assert service.set_in_force(db, datetime(2025, 6, 30, 16, 30, tzinfo=UTC)) == "camau-2019"
    assert service.set_in_force(db, datetime(2025, 6, 30, 17, 30, tzinfo=UTC)) == "camau-2025"
    assert service.set_in_force(db) == "camau-2025"
    assert service.set_in_force(db, datetime(1990, 1, 1, tzinfo=UTC)) is None
    with pytest.raises(ValueError, match="timezone"):
        service.set_in_force(db, datetime(2020, 1, 1))


def test_every_representative_point_is_assigned_to_its_own_ward(db: Conn) -> None:
    for set_name, level in (("camau-2019", "ward"), ("camau-2019", "district"), ("camau-2025", "ward")):
        units = _units(db, set_name, level)
        codes, status, dist = service.assign_points(
            db, set_name, [u.rep_lon for u in units], [u.rep_lat for u in units], level)
        assert codes.tolist() == [u.code for u in units]
        assert set(status.tolist()) == {"inside"} and not dist.any()
        for u in units[:5]:
            ref = service.assign_in_set(db, set_name, u.rep_lon, u.rep_lat, level)
            assert (ref.code, ref.status, ref.name) == (u.code, "inside", u.name)


def test_assign_ward_uses_the_set_in_force_at_the_time_and_names_the_district(db: Conn) -> None:
    w = unit_row(db, "camau-2019", "ward", _units(db, "camau-2019", "ward")[0].code)
    old = service.assign_ward(db, w["rep_lon"], w["rep_lat"], datetime(2021, 5, 1, tzinfo=UTC))
    assert old.set_name == "camau-2019" and old.code == w["code"] and old.status == "inside"
    assert old.district_code == w["parent_code"] and old.district_name
    new = service.assign_ward(db, w["rep_lon"], w["rep_lat"])
    assert new.set_name == "camau-2025" and new.status == "inside" and new.code is not None
    assert new.district_code is None  # the 2025 reform abolished districts
    before = service.assign_ward(db, w["rep_lon"], w["rep_lat"], datetime(1999, 1, 1, tzinfo=UTC))
    assert before.set_name is None and before.code is None and before.status == "outside"


def _offshore_point(db: Conn, metres: float) -> tuple[float, float]:
    """A point about ``metres`` out to sea from the 2025 coastline (outside every ward)."""
    units = _units(db, "camau-2025", "ward")
    union = shapely.union_all([shapely.from_wkb(u.geom) for u in units])
    crs = equal_area_crs(105.0, 9.0)
    (um,) = project_geometries(np.array([union]), crs)
    outline = max(shapely.get_parts(um), key=lambda p: p.area).exterior
    back = transformer(crs, WGS84)
    for frac in np.linspace(0.0, 1.0, 400, endpoint=False):
        p = outline.interpolate(frac, normalized=True)
        for ang in np.linspace(0, 2 * math.pi, 16, endpoint=False):
            q = shapely.Point(p.x + metres * math.cos(ang), p.y + metres * math.sin(ang))
            if not um.buffer(0).contains(q) and abs(um.distance(q) - metres) < 0.05 * metres:
                lon, lat = back.transform(q.x, q.y)
                return float(lon), float(lat)
    raise AssertionError("no offshore point found")


def test_points_off_the_coast_are_approximate_within_2_km_and_hanoi_is_outside(db: Conn) -> None:
    lon, lat = _offshore_point(db, 600.0)
    ref = service.assign_ward(db, lon, lat)
    assert ref.status == "approximate" and ref.code is not None
    assert 450 < ref.distance_m < 750
    far = service.assign_ward(db, *_offshore_point(db, 3500.0))
    assert far.status == "outside" and far.code is None and math.isnan(far.distance_m)
    hanoi = service.assign_ward(db, *HANOI)
    assert (hanoi.set_name, hanoi.code, hanoi.status) == ("camau-2025", None, "outside")
    for bad in ((200.0, 9.0), (105.0, float("nan")), ("x", 9.0)):
        with pytest.raises(ValueError, match=r"lon|lat"):
            service.assign_ward(db, *bad)  # type: ignore[arg-type]


def test_assign_devices_re_assigns_in_bulk_with_the_set_in_force(db: Conn) -> None:
    u25 = _units(db, "camau-2025", "ward")[3]
    inside = add_device(db, u25.rep_lon, u25.rep_lat)
    sea = add_device(db, *_offshore_point(db, 800.0))
    hanoi = add_device(db, *HANOI)
    nowhere = add_device(db, None, None)
    db.execute("UPDATE devices SET ward_set = 'camau-2019', ward_code = 'x', ward_status = 'inside' "
               "WHERE id = ANY(%s)", ([inside, sea, hanoi],))
    changed = service.assign_devices(db)
    assert changed >= 3
    rows = {r[0]: r[1:] for r in db.execute(
        "SELECT id, ward_set, ward_code, ward_status FROM devices WHERE id = ANY(%s)",
        ([inside, sea, hanoi, nowhere],)).fetchall()}
    assert rows[inside] == ("camau-2025", u25.code, "inside")
    assert rows[sea][0] == "camau-2025" and rows[sea][2] == "approximate" and rows[sea][1]
    assert rows[hanoi] == ("camau-2025", None, "outside")
    assert rows[nowhere] == (None, None, None)
    # again: nothing changes
    assert service.assign_devices(db) == 0
    # history: the same devices in the 2019 set, then back
    w19 = service.assign_in_set(db, "camau-2019", u25.rep_lon, u25.rep_lat)
    assert service.assign_devices(db, "camau-2019") >= 3
    row = db.execute("SELECT ward_set, ward_code FROM devices WHERE id = %s", (inside,)).fetchone()
    assert row == ("camau-2019", w19.code)
    service.assign_devices(db)
    db.execute("DELETE FROM devices WHERE id = ANY(%s)", ([inside, sea, hanoi, nowhere],))


def test_reimport_replaces_units_in_one_transaction_and_refreshes_the_cache(db: Conn, tmp_path) -> None:  # type: ignore[no-untyped-def]
    family = uid("fam")
    name = uid("grid")
    path = grid_set(tmp_path / "g.geojson", 3, prefix="A")
    first = service.import_file(db, path, name=name, level="ward", valid_from=date(2000, 1, 1), family=family)
    assert first.result.units == 9 and first.result.replaced == 0
    ref = service.assign_in_set(db, name, 100.015, 10.015)
    assert ref.code == "A11" and ref.name == "Phường Thử 1-1"
    assert service.set_in_force(db, family=family) == name
    # same file again: same units, new generation
    again = service.import_file(db, path, name=name, level="ward", valid_from=date(2000, 1, 1), family=family)
    assert again.result.units == 9 and again.result.replaced == 9
    assert again.result.generation > first.result.generation
    # a different file under the same name replaces the units, and the cached index follows
    path2 = grid_set(tmp_path / "g2.geojson", 2, prefix="B")
    third = service.import_file(db, path2, name=name, level="ward", valid_from=date(2000, 1, 1), family=family)
    assert third.result.units == 4 and third.result.replaced == 9
    assert [u.code for u in store.load_units(db, name, "ward")] == ["B00", "B01", "B10", "B11"]
    assert service.assign_in_set(db, name, 100.015, 10.015).code == "B11"
    assert service.assign_in_set(db, name, 100.025, 10.025).status == "approximate"
    # a refused import leaves the stored set as it was
    bad = grid_set(tmp_path / "bad.geojson", 2, prefix="C")
    text = bad.read_text().replace('"C01"', '"C00"')
    bad.write_text(text)
    with pytest.raises(ValueError, match="duplicate code"):
        service.import_file(db, bad, name=name, level="ward", valid_from=date(2000, 1, 1), family=family)
    assert len(store.load_units(db, name, "ward")) == 4
    assert store.delete_set(db, name)


def test_validity_windows_of_one_family_may_not_overlap(db: Conn, tmp_path) -> None:  # type: ignore[no-untyped-def]
    family = uid("fam")
    a, b = uid("old"), uid("new")
    path = grid_set(tmp_path / "g.geojson", 2)
    service.import_file(db, path, name=a, level="ward", valid_from=date(2010, 1, 1), family=family)
    with pytest.raises(ValidityOverlap, match=f"overlaps set '{a}'.*set-validity"):
        service.import_file(db, path, name=b, level="ward", valid_from=date(2020, 1, 1), family=family)
    assert store.get_set(db, b) is None
    store.set_validity(db, a, valid_to=date(2019, 12, 31))
    service.import_file(db, path, name=b, level="ward", valid_from=date(2020, 1, 1), family=family)
    assert service.set_in_force(db, datetime(2015, 1, 1, tzinfo=UTC), family) == a
    assert service.set_in_force(db, datetime(2024, 1, 1, tzinfo=UTC), family) == b
    with pytest.raises(ValidityOverlap):
        store.set_validity(db, a, valid_to=None)
    with pytest.raises(GeoStoreError, match="valid_to: 2000-01-01 is before valid_from 2010-01-01"):
        store.set_validity(db, a, valid_to=date(2000, 1, 1))
    # another family is independent; the camau sets are untouched
    assert service.set_in_force(db) == "camau-2025"
    for n in (a, b):
        store.delete_set(db, n)


@pytest.mark.parametrize("name", ["", "Camau", "x" * 65, "a b", "camau'; DROP TABLE boundary_sets; --",
                                  "../etc/passwd", "ca\u0301mau", None, 42])
def test_bad_set_names_are_refused_naming_the_field(db: Conn, tmp_path, name) -> None:  # type: ignore[no-untyped-def]
    path = grid_set(tmp_path / "g.geojson", 2)
    with pytest.raises(GeoStoreError, match=r"^set: "):
        service.import_file(db, path, name=name, level="ward", valid_from=date(2000, 1, 1), family=uid("fam"))
    with pytest.raises(GeoStoreError, match=r"^set: "):
        service.indexed_set(db, name)
    assert db.execute("SELECT to_regclass('boundary_sets') IS NOT NULL").fetchone() == (True,)


def test_bad_levels_dates_and_files_are_refused(db: Conn, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = grid_set(tmp_path / "g.geojson", 2)
    fam = uid("fam")
    with pytest.raises(GeoStoreError, match="level: 'province'"):
        service.import_file(db, path, name=uid("x"), level="province", valid_from=date(2000, 1, 1), family=fam)
    with pytest.raises(GeoStoreError, match="valid_to: 1999-01-01 is before valid_from 2000-01-01"):
        service.import_file(db, path, name=uid("x"), level="ward", valid_from=date(2000, 1, 1),
                            valid_to=date(1999, 1, 1), family=fam)
    broken = tmp_path / "broken.geojson"
    broken.write_bytes(b'{"type": "FeatureCollection", "features": [{"type": "Feat')
    with pytest.raises(ValueError, match=r"broken\.geojson"):
        service.import_file(db, broken, name=uid("x"), level="ward", valid_from=date(2000, 1, 1), family=fam)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        service.import_file(db, tmp_path / "none.geojson", name=uid("x"), level="ward", valid_from=date(2000, 1, 1))
    with pytest.raises(SetNotFound, match="not a boundary set"):
        service.indexed_set(db, "no-such-set")
    with pytest.raises(SetNotFound, match="no district units"):
        service.indexed_set(db, "camau-2025", "district")


def test_crosswalk_fractions_sum_to_one_where_covered(db: Conn) -> None:
    cw = service.get_crosswalk(db, "camau-2019", "camau-2025")
    assert cw is not None
    assert set(cw.coverage) == {u.code for u in _units(db, "camau-2019", "ward")}
    sums: dict[str, float] = {}
    for f, _, frac, _, _ in cw.rows:
        sums[f] = sums.get(f, 0.0) + frac
    for code, (covered, _) in cw.coverage.items():
        if covered > 0:
            assert abs(sums[code] - 1.0) < 0.01, code
    # most of old Cà Mau lies in the new province; what does not is coast where the two sources differ
    assert 0.0 < cw.stats["uncovered_share"] < 0.05
    assert cw.stats["from_units"] == 101 and cw.stats["to_units"] == 64
    # stored: a second call does not recompute
    again = service.get_crosswalk(db, "camau-2019", "camau-2025")
    assert again is not None and again.computed_at == cw.computed_at
    # re-expressing counts keeps the total (minus what falls outside the new set)
    counts = {u.code: 10.0 for u in _units(db, "camau-2019", "ward")}
    out, unplaced = service.recount(db, counts, "camau-2019", "camau-2025")
    assert abs(sum(out.values()) + unplaced - 1010.0) < 1e-6
    assert set(out) <= {u.code for u in _units(db, "camau-2025", "ward")}
    with pytest.raises(GeoStoreError, match="counts: 'nope'"):
        service.recount(db, {"nope": 1.0}, "camau-2019", "camau-2025")


def test_ensure_demo_is_idempotent_and_skips_what_is_current(db: Conn, settings: Settings) -> None:
    before = {s.name: s.generation for s in store.list_sets(db)}
    lines: list[str] = []
    res = ensure_demo(db, settings.data_dir, say=lines.append)
    assert res.imported == [] and res.crosswalks == []
    assert res.skipped == ["camau-2019/ward", "camau-2019/district", "camau-2025/ward"]
    after = {s.name: s.generation for s in store.list_sets(db)}
    assert before["camau-2019"] == after["camau-2019"] and before["camau-2025"] == after["camau-2025"]
    with pytest.raises(FileNotFoundError, match="data_dir"):
        ensure_demo(db, settings.data_dir / "nowhere")


def test_local_date_is_vietnam_time() -> None:
    assert service.local_date(datetime(2025, 6, 30, 17, 0, tzinfo=UTC)) == date(2025, 7, 1)
    assert service.local_date(datetime(2025, 7, 1, 6, 59, tzinfo=UTC) - timedelta(hours=14)) == date(2025, 6, 30)


def test_reassign_if_due_follows_the_calendar(db: Conn, tmp_path) -> None:  # type: ignore[no-untyped-def]
    u = _units(db, "camau-2025", "ward")[2]
    dev = add_device(db, u.rep_lon, u.rep_lat)
    service.assign_devices(db)
    assert service.reassign_if_due(db) == ("camau-2025", 0)
    # as if the device had been assigned before 1 July 2025 and the calendar moved on
    db.execute("UPDATE devices SET ward_set = 'camau-2019', ward_code = 'x' WHERE id = %s", (dev,))
    name, changed = service.reassign_if_due(db)
    assert name == "camau-2025" and changed >= 1
    assert db.execute("SELECT ward_set, ward_code FROM devices WHERE id = %s", (dev,)).fetchone() == \
        ("camau-2025", u.code)
    db.execute("DELETE FROM devices WHERE id = %s", (dev,))


def test_the_celery_task_is_scheduled() -> None:
    from app import celery as celery_app

    assert "geo.tasks" in celery_app.TASK_MODULES
    assert celery_app.BEAT_SCHEDULE["geo-reassign"]["task"] == "geo.reassign_if_due"
    import geo.tasks

    assert geo.tasks.reassign_if_due.name == "geo.reassign_if_due"
