"""The device registry through the real API: CRUD, roles, filters and pagination, and every write path fed
hostile, oversized and malformed input (each refused with a problem naming the field and the value)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ops_center.broker.passwd import mosquitto_verify
from tests.devices.conftest import assert_problem, uid

SQL_ID = "x'; DROP TABLE devices;--"


# ------------------------------------------------------------------------------------------------------------- CRUD


def test_create_returns_secret_once_and_stores_only_a_hash(client: TestClient, admin, db, settings) -> None:  # type: ignore[no-untyped-def]
    device_id = uid("sal")
    r = client.post("/devices", headers=admin.headers, json={
        "id": device_id, "kind": "salinity", "name": "Trạm đo độ mặn Sông Ông Đốc", "lon": 104.83, "lat": 9.04,
        "metadata": {"vendor": "Hải Âu", "depth_m": 1.5}})
    assert r.status_code == 201, r.text
    body = r.json()
    secret = body["credentials"]["password"]
    assert body["name"] == "Trạm đo độ mặn Sông Ông Đốc" and body["metadata"]["vendor"] == "Hải Âu"
    assert body["expected_interval_s"] == 600  # the kind's default
    assert body["credentials"]["username"] == device_id and len(secret) >= 32
    assert body["credentials"]["publish"] == [f"ops/v1/devices/{device_id}/{c}"
                                              for c in ("telemetry", "status", "events")]
    assert body["credentials"]["subscribe"] == [f"ops/v1/devices/{device_id}/commands/#"]
    assert body["credentials"]["broker_synced"] is True
    row = db.execute("SELECT password_hash, enabled, kind FROM mqtt_accounts WHERE username = %s",
                     (device_id,)).fetchone()
    assert row[0].startswith("$7$") and secret not in row[0] and mosquitto_verify(row[0], secret)
    assert row[1] is True and row[2] == "device"
    # nowhere in the database or the broker's files in clear, and never again from the API
    dump = db.execute("SELECT string_agg(t::text, '|') FROM (SELECT * FROM mqtt_accounts) t").fetchone()[0]
    dump += db.execute("SELECT string_agg(t::text, '|') FROM (SELECT * FROM devices) t").fetchone()[0]
    dump += db.execute("SELECT coalesce(string_agg(t::text, '|'), '') FROM (SELECT * FROM audit_log) t").fetchone()[0]
    assert secret not in dump
    passwd = settings.mqtt_passwd_file.read_text()
    assert f"{device_id}:$7$" in passwd and secret not in passwd
    # its rights are in the broker's dynamic-security state (saved by the plugin), which holds no secret either
    saved = settings.mqtt_dynsec_file.read_text()
    role = next(r for r in json.loads(saved)["roles"] if r["rolename"] == f"account:{device_id}")
    assert {(a["acltype"], a["topic"]) for a in role["acls"] if a["allow"]} == {
        *(("publishClientSend", f"ops/v1/devices/{device_id}/{c}") for c in ("telemetry", "status", "events")),
        ("subscribePattern", f"ops/v1/devices/{device_id}/commands/#"),
        ("publishClientReceive", f"ops/v1/devices/{device_id}/commands/#")}
    assert secret not in saved
    got = client.get(f"/devices/{device_id}", headers=admin.headers).json()
    assert "credentials" not in got and secret not in str(got)


def test_get_update_disable_enable_delete(client: TestClient, admin, db, new_device) -> None:  # type: ignore[no-untyped-def]
    d = new_device(kind="water_level", name="Trạm mực nước Gành Hào")
    path = f"/devices/{d['id']}"
    assert client.get(path, headers=admin.headers).json()["name"] == "Trạm mực nước Gành Hào"

    r = client.patch(path, headers=admin.headers, json={"name": "Trạm thủy văn Gành Hào", "expected_interval_s": 120,
                                                       "lon": 105.42, "lat": 9.03, "metadata": {"post": "Gành Hào"}})
    assert r.status_code == 200, r.text
    assert (r.json()["name"], r.json()["expected_interval_s"], r.json()["lon"]) == ("Trạm thủy văn Gành Hào", 120,
                                                                                    105.42)
    r = client.patch(path, headers=admin.headers, json={"lon": None, "lat": None})
    assert (r.json()["lon"], r.json()["lat"], r.json()["ward_code"]) == (None, None, None)

    r = client.post(f"{path}/disable", headers=admin.headers)
    assert r.status_code == 200 and r.json()["enabled"] is False
    assert db.execute("SELECT enabled FROM mqtt_accounts WHERE username = %s", (d["id"],)).fetchone()[0] is False
    r = client.post(f"{path}/enable", headers=admin.headers)
    assert r.json()["enabled"] is True
    assert db.execute("SELECT enabled FROM mqtt_accounts WHERE username = %s", (d["id"],)).fetchone()[0] is True

    assert client.delete(path, headers=admin.headers).status_code == 204
    assert_problem(client.get(path, headers=admin.headers), 404, "device_id", d["id"])
    assert db.execute("SELECT 1 FROM mqtt_accounts WHERE username = %s", (d["id"],)).fetchone() is None
    assert_problem(client.delete(path, headers=admin.headers), 404, d["id"])
    audit = db.execute("SELECT action, target, status FROM audit_log WHERE actor = %s AND target = %s ORDER BY id",
                       (admin.username, f"device:{d['id']}")).fetchall()
    assert [a[0] for a in audit] == ["POST /devices", "PATCH /devices/{device_id}", "PATCH /devices/{device_id}",
                                     "POST /devices/{device_id}/disable", "POST /devices/{device_id}/enable",
                                     "DELETE /devices/{device_id}", "DELETE /devices/{device_id}"]


def test_roles(client: TestClient, op, leader, login, new_device) -> None:  # type: ignore[no-untyped-def]
    d = new_device()
    # operators manage devices
    r = client.post("/devices", headers=op.headers, json={"id": uid("op"), "kind": "rain", "name": "Mưa"})
    assert r.status_code == 201, r.text
    assert client.post(f"/devices/{d['id']}/rotate-credentials", headers=op.headers).status_code == 200
    # leaders read only
    assert client.get("/devices", headers=leader.headers).status_code == 200
    assert client.get(f"/devices/{d['id']}", headers=leader.headers).status_code == 200
    for method, path, body in (("post", "/devices", {"id": uid(), "kind": "rain", "name": "x"}),
                               ("patch", f"/devices/{d['id']}", {"name": "x"}),
                               ("post", f"/devices/{d['id']}/disable", None),
                               ("post", f"/devices/{d['id']}/rotate-credentials", None),
                               ("delete", f"/devices/{d['id']}", None),
                               ("post", "/gateways", {"id": uid(), "name": "x"})):
        kwargs: dict[str, Any] = {"headers": leader.headers}
        if body is not None:
            kwargs["json"] = body
        assert_problem(getattr(client, method)(path, **kwargs), 403, "leader")
    integration = login("integration")
    assert_problem(client.get("/devices", headers=integration.headers), 403, "integration")
    assert_problem(client.get("/devices"), 401)


def test_list_filters_search_and_pagination(client: TestClient, admin, new_device) -> None:  # type: ignore[no-untyped-def]
    tag = uid("grp")
    r = client.post("/units", headers=admin.headers, json={"code": tag, "name": "Sở Tài nguyên và Môi trường",
                                                          "level": "department"})
    assert r.status_code == 201, r.text
    gw = client.post("/gateways", headers=admin.headers, json={"id": uid("gw"), "name": "Cổng LoRa Năm Căn"}).json()
    made = [new_device(id=f"{tag}-{i}", kind="rain" if i % 2 else "air_quality", unit_code=tag,
                       name=f"Trạm {i} Đầm Dơi" if i < 3 else f"Trạm {i} Cái Nước",
                       gateway_id=gw["id"] if i == 4 else None) for i in range(5)]
    client.post(f"/devices/{made[0]['id']}/disable", headers=admin.headers)

    def ids(**params: Any) -> list[str]:
        r = client.get("/devices", headers=admin.headers, params={"unit": tag, **params})
        assert r.status_code == 200, r.text
        return [d["id"] for d in r.json()["items"]]

    assert ids() == [f"{tag}-{i}" for i in range(5)]
    assert ids(kind="rain") == [f"{tag}-1", f"{tag}-3"]
    assert ids(enabled=False) == [f"{tag}-0"]
    assert ids(enabled=True, kind="air_quality") == [f"{tag}-2", f"{tag}-4"]
    assert ids(gateway=gw["id"]) == [f"{tag}-4"]
    assert ids(q="đầm dơi") == ids(q="dam doi") == ids(q="DAM DOI") == [f"{tag}-0", f"{tag}-1", f"{tag}-2"]
    assert ids(q="Cái Nước") == [f"{tag}-3", f"{tag}-4"]
    assert ids(q=f"{tag}-3") == [f"{tag}-3"]
    assert ids(q="%") == ids(q="_") == []  # wildcards are literal
    assert ids(ward="no-such-ward") == []
    assert client.get(f"/gateways/{gw['id']}", headers=admin.headers).json()["device_count"] == 1

    seen: list[str] = []
    cursor = None
    for _ in range(10):
        params: dict[str, Any] = {"unit": tag, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/devices", headers=admin.headers, params=params).json()
        seen += [d["id"] for d in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"{tag}-{i}" for i in range(5)]
    assert_problem(client.get("/devices", headers=admin.headers, params={"cursor": "garbage!!"}), 400, "cursor")


def test_device_and_gateway_share_one_namespace(client: TestClient, admin, new_device, settings) -> None:  # type: ignore[no-untyped-def]
    d = new_device()
    assert_problem(client.post("/gateways", headers=admin.headers, json={"id": d["id"], "name": "gw"}),
                   409, "id", d["id"], "device")
    gw = client.post("/gateways", headers=admin.headers, json={"id": uid("gw"), "name": "gw"}).json()
    assert gw["credentials"]["publish"] == [f"ops/v1/gateways/{gw['id']}/#"]
    assert_problem(client.post("/devices", headers=admin.headers, json={"id": gw["id"], "kind": "rain", "name": "d"}),
                   409, "id", gw["id"], "gateway")
    assert_problem(client.post("/devices", headers=admin.headers, json={"id": d["id"], "kind": "rain", "name": "d"}),
                   409, "id", d["id"])
    assert_problem(client.post("/devices", headers=admin.headers,
                               json={"id": settings.mqtt_username, "kind": "rain", "name": "d"}),
                   409, settings.mqtt_username, "service account")
    assert client.get(f"/devices/{settings.mqtt_username}", headers=admin.headers).status_code == 404


def test_gateway_crud(client: TestClient, admin, db, new_device) -> None:  # type: ignore[no-untyped-def]
    gid = uid("gw")
    r = client.post("/gateways", headers=admin.headers, json={"id": gid, "name": "Cổng Tân Thành", "lon": 105.1,
                                                             "lat": 9.2})
    assert r.status_code == 201, r.text
    d = new_device(gateway_id=gid)
    assert_problem(client.delete(f"/gateways/{gid}", headers=admin.headers), 409, "1 device", gid)
    r = client.patch(f"/gateways/{gid}", headers=admin.headers, json={"name": "Cổng Tân Thành 2"})
    assert r.json()["name"] == "Cổng Tân Thành 2"
    assert client.post(f"/gateways/{gid}/disable", headers=admin.headers).json()["enabled"] is False
    assert db.execute("SELECT enabled FROM mqtt_accounts WHERE username = %s", (gid,)).fetchone()[0] is False
    assert client.post(f"/gateways/{gid}/enable", headers=admin.headers).json()["enabled"] is True
    old = db.execute("SELECT password_hash FROM mqtt_accounts WHERE username = %s", (gid,)).fetchone()[0]
    creds = client.post(f"/gateways/{gid}/rotate-credentials", headers=admin.headers).json()
    new = db.execute("SELECT password_hash FROM mqtt_accounts WHERE username = %s", (gid,)).fetchone()[0]
    assert old != new and mosquitto_verify(new, creds["password"])
    page = client.get("/gateways", headers=admin.headers, params={"q": "tan thanh"}).json()
    assert gid in [g["id"] for g in page["items"]]
    client.patch(f"/devices/{d['id']}", headers=admin.headers, json={"gateway_id": None})
    assert client.delete(f"/gateways/{gid}", headers=admin.headers).status_code == 204
    assert db.execute("SELECT 1 FROM mqtt_accounts WHERE username = %s", (gid,)).fetchone() is None


def test_kinds_and_units(client: TestClient, admin, leader) -> None:  # type: ignore[no-untyped-def]
    kinds = {k["code"]: k for k in client.get("/device-kinds", headers=leader.headers).json()}
    assert {"water_level", "salinity", "rain", "air_quality", "street_light", "flood_camera"} <= set(kinds)
    assert kinds["salinity"]["label_vi"] == "Trạm đo độ mặn"
    code = uid("ubnd")
    assert client.post("/units", headers=admin.headers, json={"code": code, "name": "UBND xã Khánh Bình Tây",
                                                             "level": "commune"}).status_code == 201
    r = client.patch(f"/units/{code}", headers=admin.headers, json={"name": "UBND xã Khánh Bình Tây Bắc"})
    assert r.json()["name"] == "UBND xã Khánh Bình Tây Bắc"
    assert client.get(f"/units/{code}", headers=leader.headers).json()["level"] == "commune"
    assert_problem(client.post("/units", headers=admin.headers, json={"code": code, "name": "x", "level": "commune"}),
                   409, code)
    assert_problem(client.get("/units/nope-" + code, headers=leader.headers), 404, "nope-" + code)


# ----------------------------------------------------------------------------------------------- hostile input

BAD_CREATE: list[tuple[dict[str, Any], int, tuple[str, ...]]] = [
    ({"id": SQL_ID}, 422, ("id", "DROP TABLE")),
    ({"id": "thiết-bị-1"}, 422, ("id", "thiết-bị-1")),
    ({"id": "a/b"}, 422, ("id",)),
    ({"id": "dev+#"}, 422, ("id",)),
    ({"id": "dev\n"}, 422, ("id",)),
    ({"id": ""}, 422, ("id",)),
    ({"id": "x" * 65}, 422, ("id",)),
    ({"id": 12345}, 422, ("id",)),
    ({"kind": "rocket"}, 422, ("kind", "'rocket'", "salinity")),
    ({"kind": "SALINITY'; --"}, 422, ("kind", "SALINITY'; --")),
    ({"kind": ["rain"]}, 422, ("kind",)),
    ({"name": "x" * 10_000}, 422, ("name",)),
    ({"name": ""}, 422, ("name",)),
    ({"name": "   "}, 422, ("name", "empty")),
    ({"name": "bad\x00name"}, 422, ("name", "control character")),
    ({"name": "bad\x07bell"}, 422, ("name", "control")),
    ({"name": "\ud800lone"}, 422, ("name", "unicode", "ud800")),
    ({"name": {"nested": "object"}}, 422, ("name",)),
    ({"lon": 200, "lat": 9}, 422, ("lon", "200")),
    ({"lon": 105, "lat": -91}, 422, ("lat", "-91")),
    ({"lon": "abc", "lat": 9}, 422, ("lon", "abc")),
    ({"lon": 105}, 422, ("lat", "missing")),
    ({"lat": 9}, 422, ("lon", "missing")),
    ({"lon": True, "lat": 9}, 422, ("lon",)),
    ({"expected_interval_s": 0}, 422, ("expected_interval_s", "0")),
    ({"expected_interval_s": -5}, 422, ("expected_interval_s",)),
    ({"expected_interval_s": 10**30}, 422, ("expected_interval_s",)),
    ({"expected_interval_s": "often"}, 422, ("expected_interval_s", "often")),
    ({"unit_code": "no-such-unit"}, 422, ("unit_code", "no-such-unit")),
    ({"unit_code": SQL_ID}, 422, ("unit_code",)),
    ({"gateway_id": "no-such-gw"}, 422, ("gateway_id", "no-such-gw")),
    ({"metadata": "not an object"}, 422, ("metadata",)),
    ({"metadata": {"a": {"b": {"c": {"d": {"e": {"f": {"g": 1}}}}}}}}, 422, ("metadata", "deeper")),
    ({"metadata": {"blob": "x" * 20_000}}, 422, ("metadata", "bytes")),
    ({"metadata": {"k": "nul\x00"}}, 422, ("metadata.k", "NUL")),
    ({"metadata": {"big": 10**40}}, 422, ("metadata.big", "too large")),
    ({"enabled": "maybe"}, 422, ("enabled", "maybe")),
    ({"owner": "someone"}, 422, ("owner",)),  # unknown field
    ({"ward_code": "X"}, 422, ("ward_code",)),  # wards come from geo, not from the caller
]


@pytest.mark.parametrize(("fields", "status", "fragments"), BAD_CREATE)
def test_create_refuses_bad_input(client: TestClient, admin, db, fields, status, fragments) -> None:  # type: ignore[no-untyped-def]
    body = {"id": uid("bad"), "kind": "rain", "name": "Trạm mưa", **fields}
    before = db.execute("SELECT count(*) FROM devices").fetchone()[0]
    r = client.post("/devices", headers={**admin.headers, "content-type": "application/json"},
                    content=json.dumps(body).encode())  # ASCII-escaped: lone surrogates travel as \ud800
    assert_problem(r, status, *fragments)
    assert db.execute("SELECT count(*) FROM devices").fetchone()[0] == before
    assert db.execute("SELECT to_regclass('devices')").fetchone()[0] == "devices"


def test_create_refuses_malformed_bodies(client: TestClient, admin) -> None:  # type: ignore[no-untyped-def]
    h = {**admin.headers, "content-type": "application/json"}
    assert_problem(client.post("/devices", headers=h, content=b"{not json"), 422, "body")
    assert_problem(client.post("/devices", headers=h, content=b"[]"), 422)
    assert_problem(client.post("/devices", headers=h, content=b"\xff\xfe\x00garbage"), 422)
    assert_problem(client.post("/devices", headers=h,
                               content=b'{"id": "nan-dev", "kind": "rain", "name": "n", "lon": NaN, "lat": 9}'),
                   422, "lon")
    assert_problem(client.post("/devices", headers=h,
                               content=b'{"id": "inf-dev", "kind": "rain", "name": "n", "lon": 105, "lat": Infinity}'),
                   422, "lat")
    deep = b'{"id": "deep-dev", "kind": "rain", "name": "n", "metadata": ' + b'{"a": ' * 100_000 + b"1" + \
        b"}" * 100_000 + b"}"
    r = client.post("/devices", headers=h, content=deep)
    assert 400 <= r.status_code < 500, r.status_code
    huge = b'{"id": "huge-dev", "kind": "rain", "name": "' + b"x" * 2_000_000 + b'"}'
    assert_problem(client.post("/devices", headers=h, content=huge), 422, "name")


BAD_PATCH: list[tuple[dict[str, Any], tuple[str, ...]]] = [
    ({"kind": "rocket"}, ("kind", "rocket")),
    ({"kind": None}, ("kind", "None")),
    ({"name": "y" * 201}, ("name",)),
    ({"name": None}, ("name",)),
    ({"name": "tab\tin name"}, ("name", "control")),
    ({"lon": 181}, ("lon", "181")),
    ({"lat": float("-inf")}, ("lat",)),
    ({"lon": None}, ("lon", "missing")),
    ({"expected_interval_s": 0}, ("expected_interval_s",)),
    ({"expected_interval_s": None}, ("expected_interval_s", "None")),
    ({"metadata": [1, 2]}, ("metadata",)),
    ({"unit_code": "ghost-unit"}, ("unit_code", "ghost-unit")),
    ({"gateway_id": SQL_ID}, ("gateway_id",)),
    ({"enabled": False}, ("enabled",)),
    ({"id": "renamed"}, ("id",)),
    ({"last_seen": "2030-01-01T00:00:00Z"}, ("last_seen",)),
]


@pytest.mark.parametrize(("fields", "fragments"), BAD_PATCH)
def test_patch_refuses_bad_input(client: TestClient, admin, new_device, fields, fragments) -> None:  # type: ignore[no-untyped-def]
    d = new_device(lon=105.0, lat=9.1)
    r = client.patch(f"/devices/{d['id']}", headers={**admin.headers, "content-type": "application/json"},
                     content=json.dumps(fields).encode())  # float('-inf') travels as -Infinity
    assert_problem(r, 422, *fragments)
    after = client.get(f"/devices/{d['id']}", headers=admin.headers).json()
    assert {k: after[k] for k in ("kind", "name", "lon", "lat", "enabled")} == \
        {k: d[k] for k in ("kind", "name", "lon", "lat", "enabled")}


@pytest.mark.parametrize("path_id", [SQL_ID, "thiết-bị", "a" * 65, "x%00y", "-leading-dash"])
def test_hostile_path_ids(client: TestClient, admin, path_id) -> None:  # type: ignore[no-untyped-def]
    for method, suffix in (("get", ""), ("patch", ""), ("delete", ""), ("post", "/disable"), ("post", "/enable"),
                           ("post", "/rotate-credentials")):
        kwargs: dict[str, Any] = {"headers": admin.headers}
        if method == "patch":
            kwargs["json"] = {"name": "x"}
        r = getattr(client, method)(f"/devices/{path_id}{suffix}", **kwargs)
        assert r.status_code in (404, 422), (method, suffix, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")


def test_list_refuses_bad_queries(client: TestClient, admin) -> None:  # type: ignore[no-untyped-def]
    assert_problem(client.get("/devices", headers=admin.headers, params={"q": "x" * 5000}), 422, "q")
    assert_problem(client.get("/devices", headers=admin.headers, params={"limit": 0}), 422, "limit")
    assert_problem(client.get("/devices", headers=admin.headers, params={"limit": 10**9}), 422, "limit")
    assert_problem(client.get("/devices", headers=admin.headers, params={"enabled": "perhaps"}), 422, "enabled")
    r = client.get("/devices", headers=admin.headers, params={"kind": SQL_ID[:32], "q": "'; DELETE FROM devices;--"})
    assert r.status_code == 200 and r.json()["items"] == []
    assert_problem(client.get("/devices", headers=admin.headers, params={"q": "nul\x00"}), 422, "q", "NUL")


BAD_GATEWAY: list[tuple[dict[str, Any], tuple[str, ...]]] = [
    ({"id": SQL_ID}, ("id",)),
    ({"name": "z" * 300}, ("name",)),
    ({"lon": 105, "lat": 95}, ("lat", "95")),
    ({"unit_code": "ghost"}, ("unit_code", "ghost")),
    ({"metadata": {"a": [[[[[[[1]]]]]]]}}, ("metadata", "deeper")),
    ({"kind": "rain"}, ("kind",)),
]


@pytest.mark.parametrize(("fields", "fragments"), BAD_GATEWAY)
def test_gateway_refuses_bad_input(client: TestClient, admin, fields, fragments) -> None:  # type: ignore[no-untyped-def]
    body = {"id": uid("gw"), "name": "Cổng", **fields}
    assert_problem(client.post("/gateways", headers=admin.headers, json=body), 422, *fragments)


BAD_UNIT: list[tuple[dict[str, Any], tuple[str, ...]]] = [
    ({"code": SQL_ID}, ("code",)),
    ({"level": "galaxy"}, ("level", "galaxy")),
    ({"name": "n" * 1000}, ("name",)),
    ({"parent_code": "ghost-parent"}, ("parent_code", "ghost-parent")),
    ({"name": "\x1b[31mred"}, ("name", "control")),
]


@pytest.mark.parametrize(("fields", "fragments"), BAD_UNIT)
def test_unit_refuses_bad_input(client: TestClient, admin, fields, fragments) -> None:  # type: ignore[no-untyped-def]
    body = {"code": uid("u"), "name": "Phòng Kinh tế", "level": "department", **fields}
    assert_problem(client.post("/units", headers=admin.headers, json=body), 422, *fragments)
