"""A device's ward comes from geo (``geo.service.assign_ward``) when it is created or moved, in the boundary set in
force (the real Cà Mau sets, imported once per session by the geo fixture)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.devices.conftest import uid
from tests.geo.dbsupport import HANOI, camau  # noqa: F401  (session fixture: the Cà Mau boundary sets)


def test_ward_is_assigned_on_create_and_move(client: TestClient, admin, db, camau) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    wards = db.execute("SELECT code, name, rep_lon, rep_lat FROM boundary_units WHERE set_name = 'camau-2025' "
                       "AND level = 'ward' ORDER BY code LIMIT 2").fetchall()
    (code_a, _name_a, lon_a, lat_a), (code_b, _name_b, lon_b, lat_b) = wards
    device_id = uid("ward")
    r = client.post("/devices", headers=admin.headers, json={"id": device_id, "kind": "salinity",
                                                            "name": "Trạm đo mặn", "lon": lon_a, "lat": lat_a})
    assert r.status_code == 201, r.text
    assert (r.json()["ward_set"], r.json()["ward_code"], r.json()["ward_status"]) == ("camau-2025", code_a, "inside")
    listed = client.get("/devices", headers=admin.headers, params={"ward": code_a, "q": device_id}).json()["items"]
    assert [d["id"] for d in listed] == [device_id]

    moved = client.patch(f"/devices/{device_id}", headers=admin.headers, json={"lon": lon_b, "lat": lat_b}).json()
    assert (moved["ward_code"], moved["ward_status"]) == (code_b, "inside")
    far = client.patch(f"/devices/{device_id}", headers=admin.headers, json={"lon": HANOI[0], "lat": HANOI[1]}).json()
    assert (far["ward_set"], far["ward_code"], far["ward_status"]) == ("camau-2025", None, "outside")
    renamed = client.patch(f"/devices/{device_id}", headers=admin.headers, json={"name": "Đổi tên"}).json()
    assert renamed["ward_status"] == "outside"  # untouched when the location does not change
    cleared = client.patch(f"/devices/{device_id}", headers=admin.headers, json={"lon": None, "lat": None}).json()
    assert (cleared["ward_set"], cleared["ward_code"], cleared["ward_status"]) == (None, None, None)

    gw = client.post("/gateways", headers=admin.headers, json={"id": uid("gw"), "name": "Cổng", "lon": lon_a,
                                                              "lat": lat_a}).json()
    assert (gw["ward_set"], gw["ward_code"]) == ("camau-2025", code_a)
