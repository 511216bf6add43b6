"""Security of the federation routes and the province credential (issue #17 A).

Receiver (``/federation/v1/*``): only a live province credential, checked on every request (revoked, replaced or
disabled stops at once); a user's JWT or API key is not one; a province writes only its own code. National
reading routes: staff roles; administration: admin only. Provincial outbox: admin only. Everything 404s outside
its mode. Every route under ``/federation`` and ``/national`` must appear in ``COVERED`` (a new route without a
test fails ``test_every_federation_route_is_covered``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from fastapi.testclient import TestClient

from ops_center.db import connect
from ops_center.federation import periods
from ops_center.federation.config import FederationConfig
from ops_center.federation.wire import HEARTBEAT_ID, SCHEMA_ID
from tests.federation import conftest as federation_fixtures
from tests.federation.conftest import National, national_user

national_server = federation_fixtures.national_server  # the federation tests' national instance, as fixtures here
national = federation_fixtures.national

COVERED = {
    ("POST", "/federation/v1/snapshots"), ("POST", "/federation/v1/heartbeat"),
    ("GET", "/federation/outbox"), ("POST", "/federation/outbox/replay"),
    ("GET", "/national/metrics"), ("GET", "/national/map"), ("GET", "/national/provinces"),
    ("GET", "/national/provinces/{code}/snapshots"), ("POST", "/national/provinces"),
    ("POST", "/national/provinces/{code}/credential"), ("DELETE", "/national/provinces/{code}/credential"),
    ("GET", "/national/dead-letters"), ("GET", "/national/brief.pdf"), ("GET", "/national"),
}
READS = ["/national/metrics", "/national/map?geometry=false", "/national/provinces",
         "/national/provinces/86/snapshots", "/national/brief.pdf"]


def snapshot(code: str) -> dict[str, object]:
    return {"schema": SCHEMA_ID, "schema_version": "1.0", "province": code, "kind": "alerts_open",
            "period": periods.month_of(datetime.now(UTC)), "version": 1, "generated_at": datetime.now(UTC).isoformat(),
            "data": {"open_total": 0, "muted": 0, "acknowledged": 0, "open": [], "fired_in_period": 0}}


def heartbeat(code: str) -> dict[str, object]:
    return {"schema": HEARTBEAT_ID, "schema_version": "1.0", "province": code,
            "sent_at": datetime.now(UTC).isoformat(), "publish_interval_s": 60, "outbox_pending": 0,
            "software": "ops-center 0.1.0"}


def send(national: National, token: str | None, path: str = "snapshots", body: object = None,
         **headers: str) -> httpx.Response:
    h = dict(headers)
    if token is not None:
        h["Authorization"] = f"Bearer {token}"
    return httpx.post(f"{national.url}/federation/v1/{path}", json=body if body is not None else snapshot("86"),
                      headers=h)


@pytest.fixture(scope="module")
def nclient(national: National) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=national.url, timeout=30) as c:
        yield c


def login(client: httpx.Client, national: National, role: str) -> dict[str, str]:
    username, password = national_user(national, role)
    r = client.post("/auth/token", data={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_every_federation_route_is_covered(national: National) -> None:
    paths = national.app.openapi()["paths"]
    found = {(m.upper(), p) for p, ops in paths.items() if p.startswith(("/federation", "/national")) for m in ops}
    assert found | {("GET", "/national")} == COVERED  # the page is left out of the schema


def test_receiver_needs_a_live_province_credential(national: National, nclient: httpx.Client) -> None:
    token = national.register("86")
    assert send(national, token).status_code == 201
    assert send(national, token, "heartbeat", heartbeat("86")).status_code == 200
    for bad in (None, "opsfed_x", "opsfed__", "Basic", "opsfed_000000000000_" + "a" * 43, token + "x", token.replace("opsfed", "ops")):
        for path, body in (("snapshots", snapshot("86")), ("heartbeat", heartbeat("86"))):
            r = send(national, bad, path, body)
            assert r.status_code == 401, (bad, r.text)
            assert r.headers["content-type"] == "application/problem+json"
            assert "www-authenticate" in r.headers
    admin = login(nclient, national, "admin")
    assert send(national, admin["Authorization"].removeprefix("Bearer ")).status_code == 401  # a user is no province
    minted = nclient.post("/api-keys", json={"name": "fed-test", "role": "admin"}, headers=admin)
    assert minted.status_code == 201, minted.text
    api_key = minted.json()["key"]
    assert send(national, None, **{"X-API-Key": api_key}).status_code == 401
    assert send(national, api_key).status_code == 401


def test_a_credential_stops_at_once_when_replaced_revoked_or_the_province_disabled(national: National,
                                                                                   nclient: httpx.Client) -> None:
    old = national.register("86")
    new = national.register("86")  # issuing again replaces the credential
    assert send(national, old).status_code == 401
    assert send(national, new).status_code in (200, 201)
    admin = login(nclient, national, "admin")
    assert nclient.delete("/national/provinces/86/credential", headers=admin).status_code == 204
    assert send(national, new).status_code == 401
    again = nclient.post("/national/provinces/86/credential", headers=admin)
    assert again.status_code == 201
    token = again.json()["token"]
    assert send(national, token).status_code in (200, 201)
    with connect(national.settings.database_url) as conn:
        conn.execute("UPDATE federation_provinces SET enabled = false WHERE code = '86'")
        conn.commit()
    try:
        assert send(national, token).status_code == 401
    finally:
        with connect(national.settings.database_url) as conn:
            conn.execute("UPDATE federation_provinces SET enabled = true WHERE code = '86'")
            conn.commit()
    stored = [r[0] for r in connect(national.settings.database_url).execute(
        "SELECT token_hash FROM federation_provinces WHERE code = '86'").fetchall()]
    assert stored and token not in str(stored) and token.split("_", 2)[2] not in str(stored)


def test_a_province_writes_only_its_own_code(national: National) -> None:
    token = national.register("86")
    national.register("82")
    for path, body in (("snapshots", snapshot("82")), ("heartbeat", heartbeat("82"))):
        r = send(national, token, path, body)
        assert r.status_code == 403 and r.json()["reason"] == "foreign_province", r.text
    with connect(national.settings.database_url) as conn:
        assert conn.execute("SELECT count(*) FROM federation_snapshots WHERE province = '82'").fetchone() == (0,)
        assert conn.execute("SELECT last_contact_at FROM federation_provinces WHERE code = '82'").fetchone() == (None,)
        letters = conn.execute("SELECT province, claimed_province, reason FROM federation_dead_letters "
                               "WHERE reason = 'foreign_province' ORDER BY id DESC LIMIT 2").fetchall()
    assert letters == [("86", "82", "foreign_province")] * 2


def test_national_reads_are_for_staff_and_administration_for_admins(national: National,
                                                                    nclient: httpx.Client) -> None:
    national.register("86")
    for path in READS:
        assert nclient.get(path).status_code == 401
        assert nclient.get(path, headers=login(nclient, national, "integration")).status_code == 403
    for role in ("leader", "operator", "admin"):
        headers = login(nclient, national, role)
        for path in READS:
            assert nclient.get(path, headers=headers).status_code == 200, (role, path)
    admin_calls = [("post", "/national/provinces", {"codes": ["80"]}), ("post", "/national/provinces/80/credential",
                   None), ("delete", "/national/provinces/80/credential", None), ("get", "/national/dead-letters", None)]
    for role in ("leader", "operator", "integration"):
        headers = login(nclient, national, role)
        for method, path, body in admin_calls:
            r = nclient.request(method.upper(), path, headers=headers, json=body)
            assert r.status_code == 403, (role, path, r.text)
    admin = login(nclient, national, "admin")
    for method, path, body in admin_calls:
        r = nclient.request(method.upper(), path, headers=admin, json=body)
        assert r.status_code in (200, 201, 204), (path, r.text)
    r = nclient.post("/national/provinces", headers=admin, json={"codes": ["02"]})
    assert r.status_code == 422  # not a 2025 province code
    r = nclient.post("/national/provinces/02/credential", headers=admin)
    assert r.status_code == 404
    assert nclient.get("/national/provinces/8%00/snapshots", headers=admin).status_code == 422
    assert nclient.get("/national", headers={}).status_code == 200  # the page holds no data


def test_national_routes_are_absent_outside_national_mode(client: TestClient, admin) -> None:  # type: ignore[no-untyped-def]
    for path in [*READS, "/national/dead-letters"]:
        assert client.get(path, headers=admin.headers).status_code == 404
    r = client.post("/federation/v1/snapshots", json=snapshot("96"), headers={"Authorization": "Bearer opsfed_a_b"})
    assert r.status_code == 404


def test_the_provincial_outbox_is_for_admins_of_a_publishing_province(client: TestClient, login) -> None:  # type: ignore[no-untyped-def]
    admin, leader = login("admin"), login("leader")
    assert client.get("/federation/outbox").status_code == 401
    assert client.get("/federation/outbox", headers=leader.headers).status_code == 403
    assert client.get("/federation/outbox", headers=admin.headers).status_code == 404  # mode off
    client.app.state.federation = FederationConfig(mode="province", upstream_url="http://127.0.0.1:9",
                                                   province_code="96", token="opsfed_a_b")
    try:
        assert client.get("/federation/outbox", headers=leader.headers).status_code == 403
        assert client.post("/federation/outbox/replay", headers=leader.headers, json={}).status_code == 403
        r = client.get("/federation/outbox", headers=admin.headers)
        assert r.status_code == 200 and "items" in r.json()
        assert client.post("/federation/outbox/replay", headers=admin.headers, json={}).status_code == 200
        r = client.post("/federation/outbox/replay", headers=admin.headers, json={"ids": ["x\x00"]})
        assert r.status_code == 422
        for ids in ([2**63], [0], ["5"]):  # outside the bigint column, or not a JSON integer: refused, never a 500
            r = client.post("/federation/outbox/replay", headers=admin.headers, json={"ids": ids})
            assert r.status_code == 422 and "ids.0" in r.text, (ids, r.text)
    finally:
        del client.app.state.federation
