"""The incident service on the real database with geo's ward assignment over the real Cà Mau boundaries: ward at
report time, SLA and derived overdue, the status machine, duplicate linking, device events, the map layer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from geo.service import assign_ward
from ops_center.db import Conn, fetch_all
from ops_center.incidents import categories, service, states
from ops_center.incidents.models import BadTransition, Contact, IncidentError, NewReport, NotFound
from tests.incidents.conftest import Ward, north, when


def report(ward: Ward, at: datetime, category: str = "flooding", metres_north: float = 0.0,
           **kw: Any) -> NewReport:
    kw.setdefault("title", "Ngập sâu 40 cm trên đường Trần Hưng Đạo")
    return NewReport(category=category, source="operator", lon=ward.lon, lat=north(ward.lat, metres_north),
                     reported_at=at, reporter=Contact("Nguyễn Văn An", "0912 345 678", "an@example.vn"), **kw)


def file(db: Conn, r: NewReport, now: datetime | None = None) -> tuple[dict[str, Any], bool]:
    return service.file_report(db, r, actor="op-test", ward_resolver=assign_ward, now=now)


def events_for(db: Conn, incident_id: int) -> list[dict[str, Any]]:
    rows = fetch_all(db, "SELECT topic, payload FROM events WHERE subject = %s ORDER BY id", (f"incident:{incident_id}",))
    return [r["payload"] for r in rows]


def test_ward_in_force_at_report_time(db: Conn, ward25: Ward, ward19: Ward) -> None:
    row, linked = file(db, report(ward25, when()))
    assert not linked
    assert (row["ward_set"], row["ward_code"], row["ward_name"], row["ward_status"]) == (
        "camau-2025", ward25.code, ward25.name, "inside")
    assert row["district_code"] is None  # the 2025 set has no districts
    old, _ = file(db, report(ward19, when(datetime(2023, 1, 1, tzinfo=UTC), 400)))
    assert (old["ward_set"], old["ward_code"], old["district_code"]) == ("camau-2019", ward19.code,
                                                                         ward19.district_code)
    assert old["district_code"] is not None
    sea, _ = file(db, NewReport("Tàu chìm ngoài khơi", "other", "operator", 103.0, 8.0, reported_at=when()))
    assert (sea["ward_set"], sea["ward_code"], sea["ward_status"]) == ("camau-2025", None, "outside")


def test_sla_due_time_and_overdue_from_timestamps(db: Conn, ward25: Ward) -> None:
    at = when()
    row, _ = file(db, report(ward25, at, category="traffic_accident"))
    assert row["due_at"] == at + timedelta(hours=2)
    assert row["severity"] == "major"  # the category's default
    early = service.get_incident(db, row["id"], with_contact=False, now=at + timedelta(hours=1))
    late = service.get_incident(db, row["id"], with_contact=False, now=at + timedelta(hours=3))
    assert early["overdue"] is False and late["overdue"] is True
    cat = categories.get_category(db, "riverbank_erosion")
    assert cat is not None and (cat.label_vi, cat.label_en) == ("Sạt lở bờ sông, bờ biển", "Riverbank erosion")


def test_status_machine(db: Conn, ward25: Ward, unit: str) -> None:
    row, _ = file(db, report(ward25, when(), category="fallen_tree"))
    iid = row["id"]
    with pytest.raises(BadTransition, match="cannot go from 'new' to 'resolved'; allowed from 'new': assigned"):
        service.transition(db, iid, "resolved", actor="op")
    with pytest.raises(IncidentError, match="unit: required to assign"):
        service.transition(db, iid, "assigned", actor="op")
    with pytest.raises(IncidentError, match="'NO-SUCH' is not a known unit"):
        service.transition(db, iid, "assigned", actor="op", unit="NO-SUCH")
    with pytest.raises(IncidentError, match="'opened' is not a status"):
        service.transition(db, iid, "opened", actor="op")
    assert service.transition(db, iid, "assigned", actor="op", unit=unit)["assigned_unit"] == unit
    with pytest.raises(IncidentError, match="only a transition to 'assigned' takes a unit"):
        service.transition(db, iid, "in_progress", actor="op", unit=unit)
    service.transition(db, iid, "in_progress", actor="op", note="Đội cây xanh đã đến hiện trường")
    resolved = service.transition(db, iid, "resolved", actor="op")
    assert resolved["resolved_at"] is not None
    assert service.to_json(resolved, with_contact=False)["overdue"] is False
    closed = service.transition(db, iid, "closed", actor="lead")
    assert closed["closed_at"] is not None
    with pytest.raises(BadTransition, match="allowed from 'closed': in_progress"):
        service.transition(db, iid, "new", actor="op")
    reopened = service.transition(db, iid, "in_progress", actor="op", note="Cây lại đổ")
    assert (reopened["status"], reopened["resolved_at"], reopened["closed_at"]) == ("in_progress", None, None)
    service.transition(db, iid, "resolved", actor="op")
    service.transition(db, iid, "in_progress", actor="op")  # reopen from resolved
    with pytest.raises(NotFound):
        service.transition(db, 10**12, "assigned", actor="op", unit=unit)
    entry = service.add_comment(db, iid, "Đã cưa dọn xong, thông đường", actor="op2")
    assert entry["kind"] == "comment" and entry["note"] == "Đã cưa dọn xong, thông đường"
    tl = service.timeline(db, iid)
    assert [(e["kind"], e["from_status"], e["to_status"]) for e in tl] == [
        ("created", None, "new"), ("assigned", "new", "assigned"), ("status", "assigned", "in_progress"),
        ("status", "in_progress", "resolved"), ("status", "resolved", "closed"),
        ("status", "closed", "in_progress"), ("status", "in_progress", "resolved"),
        ("status", "resolved", "in_progress"), ("comment", None, None)]
    assert tl[5]["detail"]["reopen"] is True and tl[5]["note"] == "Cây lại đổ" and tl[4]["actor"] == "lead"
    transitions = [e["transition"] for e in events_for(db, iid)]
    assert transitions == ["created", "assigned", "in_progress", "resolved", "closed", "reopened", "resolved",
                           "reopened", "comment"]
    assert all("reporter" not in e and "reporter_phone" not in e for e in events_for(db, iid))
    assert states.allowed("resolved") == ("closed", "in_progress")


def test_duplicates_within_200m_and_2h_are_linked(db: Conn, ward25: Ward) -> None:
    at = when()
    first, linked = file(db, report(ward25, at))
    assert not linked and first["report_count"] == 1
    near, linked = file(db, report(ward25, at + timedelta(minutes=90), metres_north=150, title="Nước ngập nhà dân"))
    assert linked and near["id"] == first["id"] and near["report_count"] == 2
    earlier, linked = file(db, report(ward25, at - timedelta(minutes=30), metres_north=-120))
    assert linked and earlier["report_count"] == 3
    far, linked = file(db, report(ward25, at + timedelta(minutes=10), metres_north=260))
    assert not linked and far["id"] != first["id"]
    later, linked = file(db, report(ward25, at + timedelta(hours=2, minutes=30), metres_north=-10))
    assert not linked and later["id"] not in (first["id"], far["id"])
    _, linked = file(db, report(ward25, at + timedelta(minutes=5), category="power_outage"))
    assert not linked
    reps = service.reports(db, first["id"], with_contact=True)
    assert [round(r["distance_m"]) for r in reps] == [0, 150, 120]
    assert reps[1]["title"] == "Nước ngập nhà dân" and reps[1]["reporter"]["phone"] == "0912 345 678"
    assert "reporter" not in service.reports(db, first["id"], with_contact=False)[0]
    assert [e["transition"] for e in events_for(db, first["id"])] == ["created", "linked", "linked"]
    # a resolved incident takes no more duplicates
    db.execute("UPDATE incidents SET status = 'resolved' WHERE id = %s", (far["id"],))
    again, linked = file(db, report(ward25, at + timedelta(minutes=20), metres_north=260))
    assert not linked and again["id"] != far["id"]


def test_bad_reports_are_refused(db: Conn, ward25: Ward) -> None:
    at = when()
    for bad, message in [
        (report(ward25, at, category="volcano"), "category: 'volcano'"),
        (report(ward25, at, title="   "), "title: must not be empty"),
        (report(ward25, at, title="x" * 201), "title: 201 characters"),
        (report(ward25, at, description="y" * 5001), "description: 5001 characters"),
        (report(ward25, at, severity="apocalyptic"), "severity: 'apocalyptic'"),
        (report(ward25, at, title="a\x00b"), "NUL"),
        (NewReport("t", "flooding", "operator", 200.0, 9.0, reported_at=at), "lon: 200.0"),
        (NewReport("t", "flooding", "operator", float("nan"), 9.0, reported_at=at), "lon: nan"),
        (NewReport("t", "flooding", "operator", 105.0, None, reported_at=at), "give both or neither"),
        (NewReport("t", "flooding", "fax", 105.0, 9.0, reported_at=at), "source: 'fax'"),
        (NewReport("t", "flooding", "operator", 105.0, 9.0, reported_at=datetime(2025, 8, 1)), "no timezone"),
        (NewReport("t", "flooding", "operator", 105.0, 9.0, reported_at=datetime(2099, 1, 1, tzinfo=UTC)),
         "in the future"),
        (report(ward25, at, assigned_unit="x'; DROP TABLE units; --"), "is not a known unit"),
    ]:
        with pytest.raises(IncidentError, match=message.replace("(", r"\(")):
            file(db, bad)


def test_device_events_open_or_join_incidents(db: Conn, ward25: Ward) -> None:
    dev = f"wl-{when().strftime('%H%M%S')}-{ward25.code}"
    db.execute("INSERT INTO devices (id, kind, name, lon, lat, ward_set, ward_code, ward_status) "
               "VALUES (%s, 'water_level', 'Trạm đo mực nước cầu Gành Hào', %s, %s, %s, %s, 'inside')",
               (dev, ward25.lon, ward25.lat, ward25.set_name, ward25.code))
    at = when()
    iid = service.from_device_event(db, dev, "water_level.high", "critical", "Mực nước 185 cm vượt báo động 3",
                                    at, None, None)
    assert iid is not None
    row = service.get_incident(db, iid, with_contact=True)
    assert (row["category"], row["severity"], row["source"]) == ("flooding", "critical", "device_event")
    assert (row["lon"], row["lat"]) == (ward25.lon, ward25.lat)  # the device's position
    assert (row["ward_set"], row["ward_code"], row["ward_name"]) == (ward25.set_name, ward25.code, ward25.name)
    assert row["title"] == "Ngập úng: Trạm đo mực nước cầu Gành Hào"
    assert "Mực nước 185 cm" in row["description"] and row["reporter"]["name"] is None
    # redelivered (at-least-once): the same incident, counted once
    assert service.from_device_event(db, dev, "water_level.high", "critical", "again", at, None, None) == iid
    # the next alarm 10 minutes later joins the open incident
    assert service.from_device_event(db, dev, "water_level.high", "warning", None, at.timestamp() + 600,
                                     None, None, ward_resolver=assign_ward) == iid
    assert service.get_incident(db, iid, with_contact=False)["report_count"] == 2
    assert service.from_device_event(db, dev, "door.open", "info", None, at, None, None) is None
    assert categories.for_device_kind(db, "salinity.high").code == "salinity_intrusion"  # type: ignore[union-attr]
    assert categories.for_device_kind(db, "street_light.fault").code == "infrastructure_damage"  # type: ignore[union-attr]


def test_open_by_ward_map_layer(db: Conn, ward25: Ward, ward19: Ward) -> None:
    before = service.open_by_ward(db, "camau-2025", "ward").get(ward25.code, 0)
    a, _ = file(db, report(ward25, when(), category="public_order"))
    b, _ = file(db, report(ward25, when(), category="environmental_pollution", metres_north=500))
    assert service.open_by_ward(db, "camau-2025", "ward")[ward25.code] == before + 2
    db.execute("UPDATE incidents SET status = 'resolved' WHERE id = %s", (b["id"],))
    assert service.open_by_ward(db, "camau-2025", "ward")[ward25.code] == before + 1
    c, _ = file(db, report(ward19, when(datetime(2022, 1, 1, tzinfo=UTC), 300), category="public_order"))
    districts = service.open_by_ward(db, "camau-2019", "district")
    assert districts[ward19.district_code] >= 1  # type: ignore[index]
    assert service.open_by_ward(db, "camau-2025", "district") == {}
    with pytest.raises(IncidentError):
        service.open_by_ward(db, "camau-2025", "province")
    del a, c


def test_list_filters(db: Conn, ward25: Ward) -> None:
    row, _ = file(db, report(ward25, when(), category="salinity_intrusion"))
    got = service.list_incidents(db, with_contact=False, status="open", category="salinity_intrusion",
                                 ward=ward25.code, limit=500)
    assert row["id"] in [r["id"] for r in got]
    assert all(r["status"] in ("new", "assigned", "in_progress") for r in got)
    assert all("reporter" not in r for r in got)
    assert any(r.get("reporter", {}).get("name") == "Nguyễn Văn An"
               for r in service.list_incidents(db, with_contact=True, ids=[row["id"]]))
    with pytest.raises(IncidentError, match="status: 'lost'"):
        service.list_incidents(db, with_contact=False, status="lost")
