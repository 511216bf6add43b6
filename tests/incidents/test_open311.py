"""Open311 GeoReport v2 through the real app: services, requests created with an API key (form-encoded, as the
standard says) and read back in the standard's shapes, duplicates linked, errors in the standard's shape, contacts
never shown, the write audited, reads optionally behind a key."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ops_center.db import Conn
from ops_center.settings import Settings
from tests.incidents.conftest import Ward, north, spot

REQUEST_KEYS = {"service_request_id", "status", "status_notes", "service_name", "service_code", "description",
                "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
                "expected_datetime", "address", "address_id", "zipcode", "lat", "long", "media_url"}


def form(ward: Ward, key: str | None, **kw: Any) -> dict[str, Any]:
    out = {"service_code": "environmental_pollution", "lat": str(ward.lat), "long": str(ward.lon),
           "description": "Khói đen từ lò đốt rác gần chợ, mùi rất nặng", "address_string": "Chợ phường 7",
           "first_name": "Lê", "last_name": "Minh Tâm", "phone": "0919 000 111", "email": "tam@example.vn",
           "media_url": "https://example.vn/anh/1.jpg"}
    if key:
        out["api_key"] = key
    out.update(kw)
    return {k: v for k, v in out.items() if v is not None}


def test_services_are_public_and_standard(client: TestClient) -> None:
    r = client.get("/open311/v2/services.json")
    assert r.status_code == 200
    services = {s["service_code"]: s for s in r.json()}
    flood = services["flooding"]
    assert set(flood) == {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
    assert (flood["service_name"], flood["metadata"], flood["type"]) == ("Ngập úng", False, "realtime")
    assert "Salinity intrusion" in services["salinity_intrusion"]["description"]
    assert client.get("/open311/v2/services/flooding.json").json() == {"service_code": "flooding", "attributes": []}
    nope = client.get("/open311/v2/services/volcano.json")
    assert nope.status_code == 404 and nope.json()[0]["code"] == 404
    assert client.get("/open311/v2/discovery.json").json()["endpoints"][0]["formats"] == ["application/json"]


def test_request_created_and_read_back(client: TestClient, ward25: Ward, api_key, db: Conn) -> None:  # type: ignore[no-untyped-def]
    name, key = api_key("integration")
    lat = north(ward25.lat, spot())  # keep clear of other tests' reports
    r = client.post("/open311/v2/requests.json", data=form(ward25, key, lat=str(lat)))
    assert r.status_code == 200, r.text
    [created] = r.json()
    assert set(created) == {"service_request_id", "service_notice", "account_id"}
    rid = created["service_request_id"]
    assert rid.isdigit()
    got = client.get(f"/open311/v2/requests/{rid}.json")  # public read
    assert got.status_code == 200
    [req] = got.json()
    assert set(req) == REQUEST_KEYS
    assert (req["status"], req["service_code"], req["service_name"]) == ("open", "environmental_pollution",
                                                                         "Ô nhiễm môi trường")
    assert req["description"] == "Khói đen từ lò đốt rác gần chợ, mùi rất nặng"
    assert (req["lat"], req["long"], req["address"]) == (lat, ward25.lon, "Chợ phường 7")
    assert req["media_url"] == "https://example.vn/anh/1.jpg"
    assert req["requested_datetime"] and req["expected_datetime"]
    assert "tam@example.vn" not in got.text and "0919 000 111" not in got.text and "Minh Tâm" not in got.text
    row = db.execute("SELECT source, reporter_name, reporter_phone, reporter_email, ward_code FROM incidents "
                     "WHERE id = %s", (int(rid),)).fetchone()
    assert row is not None and row[0] == "citizen_app" and row[1:4] == ("Lê Minh Tâm", "0919 000 111",
                                                                        "tam@example.vn")
    audit = db.execute("SELECT action, target, status, actor_role FROM audit_log WHERE actor = %s",
                       (f"key:{name}",)).fetchall()
    assert ("POST /open311/v2/requests.{fmt}", f"incident:{rid}", 200, "integration") in audit
    # a second report a few metres away is linked to the first
    again = client.post("/open311/v2/requests.json", data=form(ward25, key, lat=str(north(lat, 40))))
    [linked] = again.json()
    assert linked["service_request_id"] == rid and "linked to existing request" in linked["service_notice"]
    # closing the incident shows as closed
    db.execute("UPDATE incidents SET status = 'resolved' WHERE id = %s", (int(rid),))
    assert client.get(f"/open311/v2/requests/{rid}.json").json()[0]["status"] == "closed"


def test_request_lists_filter_as_the_standard_says(client: TestClient, ward25: Ward, api_key) -> None:  # type: ignore[no-untyped-def]
    _, key = api_key("integration")
    ids = []
    for code in ("fallen_tree", "power_outage"):
        r = client.post("/open311/v2/requests.json",
                        data=form(ward25, key, service_code=code, lat=str(north(ward25.lat, spot()))))
        ids.append(r.json()[0]["service_request_id"])
    both = client.get("/open311/v2/requests.json", params={"service_request_id": ",".join(ids)}).json()
    assert sorted(x["service_request_id"] for x in both) == sorted(ids)
    trees = client.get("/open311/v2/requests.json", params={"service_code": "fallen_tree", "status": "open"}).json()
    assert ids[0] in [x["service_request_id"] for x in trees] and ids[1] not in [x["service_request_id"] for x in trees]
    assert all(x["status"] == "open" and x["service_code"] == "fallen_tree" for x in trees)
    old = client.get("/open311/v2/requests.json", params={"start_date": "2020-01-01T00:00:00Z",
                                                          "end_date": "2020-02-01T00:00:00Z"}).json()
    assert old == []
    assert len(client.get("/open311/v2/requests.json").json()) <= 1000


@pytest.mark.parametrize(("patch", "status", "text"), [
    ({"service_code": None}, 400, "service_code: required"),
    ({"service_code": "volcano"}, 400, "service_code: 'volcano' is not a service"),
    ({"service_code": "' OR 1=1; --"}, 400, "is not a service"),
    ({"lat": None}, 400, "lat: required"),
    ({"lat": "nine"}, 400, "lat: 'nine' is not a number"),
    ({"long": "1e400"}, 400, "long: '1e400' is not between"),
    ({"lat": "NaN"}, 400, "lat: 'NaN' is not between"),
    ({"description": "x" * 4001}, 400, "description: 4001 characters"),
    ({"media_url": "javascript:alert(1)"}, 400, "media_url"),
    ({"email": "e" * 300}, 400, "email: 300 characters"),
])
def test_bad_requests_answer_in_the_standard_shape(client: TestClient, ward25: Ward, api_key,  # type: ignore[no-untyped-def]
                                                   patch: dict[str, Any], status: int, text: str) -> None:
    _, key = api_key("integration")
    r = client.post("/open311/v2/requests.json", data=form(ward25, key, **patch))
    assert r.status_code == status, r.text
    [err] = r.json()
    assert err["code"] == status and text in err["description"]


def test_api_keys(client: TestClient, ward25: Ward, api_key, admin) -> None:  # type: ignore[no-untyped-def]
    no_key = client.post("/open311/v2/requests.json", data=form(ward25, None))
    assert no_key.status_code == 403 and "api_key: missing" in no_key.json()[0]["description"]
    wrong = client.post("/open311/v2/requests.json", data=form(ward25, "ops_abc_def"))
    assert wrong.status_code == 403 and "invalid" in wrong.json()[0]["description"]
    _, leader_key = api_key("leader")
    assert client.post("/open311/v2/requests.json", data=form(ward25, leader_key)).status_code == 403
    # a revoked key stops working
    r = client.post("/api-keys", json={"name": "citizen-app", "role": "integration"}, headers=admin.headers)
    key_id, key = r.json()["id"], r.json()["key"]
    header = client.post("/open311/v2/requests.json", data=form(ward25, None, lat=str(north(ward25.lat, spot()))),
                         headers={"X-API-Key": key})
    assert header.status_code == 200
    client.delete(f"/api-keys/{key_id}", headers=admin.headers)
    assert client.post("/open311/v2/requests.json", data=form(ward25, key)).status_code == 403


def test_formats_and_unknown_ids(client: TestClient) -> None:
    xml = client.get("/open311/v2/services.xml")
    assert xml.status_code == 400
    assert "format: 'xml'" in xml.json()[0]["description"]
    assert client.get("/open311/v2/requests/99999999999.json").status_code == 404
    assert client.get("/open311/v2/requests/abc.json").status_code == 404
    bad = client.get("/open311/v2/requests.json", params={"status": "pending"})
    assert bad.status_code == 400 and "status" in bad.json()[0]["description"]
    bad = client.get("/open311/v2/requests.json", params={"start_date": "last week"})
    assert bad.status_code == 400 and "start_date" in bad.json()[0]["description"]


@pytest.fixture
def private_client(settings: Settings) -> Iterator[TestClient]:
    from api.app import create_app

    with TestClient(create_app(settings.model_copy(update={"open311_public_read": False}))) as c:
        yield c


def test_reads_can_require_a_key(private_client: TestClient, api_key) -> None:  # type: ignore[no-untyped-def]
    assert private_client.get("/open311/v2/services.json").status_code == 403
    _, key = api_key("integration")
    assert private_client.get("/open311/v2/services.json", params={"api_key": key}).status_code == 200
    assert private_client.get("/open311/v2/requests.json", headers={"X-API-Key": key}).status_code == 200
