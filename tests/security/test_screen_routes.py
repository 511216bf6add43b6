"""The drill-down routes of the screens (device detail, device markers, ward detail, trends): every one needs an
authenticated staff principal (admin, operator, leader); integration credentials get 403, no credentials 401, and
hostile parameters a problem naming the field — never a 500."""

from __future__ import annotations

import pytest

from ops_center.auth.apikeys import create_api_key
from ops_center.auth.users import get_user
from ops_center.db import connect
from tests.live import conftest as live
from tests.live.conftest import add_device, some_ward, tag

camau = live.camau  # the Cà Mau boundary sets, as `make up` loads them (a fixture)

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def target(settings, camau):  # type: ignore[no-untyped-def]
    with connect(settings.database_url, autocommit=True) as conn:
        dev = f"sec-{tag()}"
        ward = some_ward(conn, "camau-2019", 30)
        add_device(conn, dev, ward)
        code = conn.execute("SELECT ward_code FROM devices WHERE id = %s", (dev,)).fetchone()[0]
    return {"device": dev, "set": camau, "ward": code}


def routes(t: dict[str, str]) -> list[str]:
    d, s, w = t["device"], t["set"], t["ward"]
    return [f"/devices/{d}/overview", f"/devices/{d}/series?range=7d", f"/devices/{d}/status-history",
            f"/devices/{d}/alerts", f"/devices/{d}/incidents", "/map/devices", f"/map/devices?set={s}&ward={w}",
            f"/wards/{s}/{w}", f"/wards/{s}/{w}/devices", f"/wards/{s}/{w}/alerts", f"/wards/{s}/{w}/incidents",
            f"/wards/{s}/{w}/series", "/kpis/dossiers/trend?level=unit", "/devices?state=stale"]


def test_staff_roles_read(client, login, target) -> None:  # type: ignore[no-untyped-def]
    for role in ("admin", "operator", "leader"):
        who = login(role)
        for path in routes(target):
            r = client.get(path, headers=who.headers)
            assert r.status_code == 200, (role, path, r.text)


def test_integration_role_is_refused(client, login, settings, target) -> None:  # type: ignore[no-untyped-def]
    user = login("integration")
    with connect(settings.database_url) as conn:  # an API key belongs to an enabled admin (h-auth)
        owner = get_user(conn, login("admin").username)
        assert owner is not None
        _, secret = create_api_key(conn, f"onestop-{tag()}", "integration", owner)
        conn.commit()
    for headers in (user.headers, {"X-API-Key": secret}):
        for path in routes(target):
            r = client.get(path, headers=headers)
            assert r.status_code == 403, (path, r.text)
            assert r.headers["content-type"].startswith(PROBLEM)
            assert "integration" in r.json()["detail"]


def test_no_credentials_or_a_bad_token(client, target) -> None:  # type: ignore[no-untyped-def]
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"X-API-Key": "ops_nope"}):
        for path in routes(target):
            r = client.get(path, headers=headers)
            assert r.status_code == 401, (path, headers, r.text)
            assert r.headers["content-type"].startswith(PROBLEM)


@pytest.mark.parametrize("path, status", [
    ("/devices/a%00b/overview", 422),
    ("/devices/{device}/series?metric=a%00b", 422),
    ("/devices/{device}/series?" + "&".join(["metric=salinity_ppt"] * 21), 422),
    ("/devices/{device}/series?from=2025-01-01T00:00:00%2B07:00&to=2025-01-01T00:00:00%00", 422),
    ("/devices/{device}/status-history?cursor=" + "A" * 2000, 422),
    ("/devices/{device}/alerts?cursor=eyJpZCI6ICJ4In0", 400),
    ("/devices/{device}/incidents?status=open%00", 422),
    ("/map/devices?set=camau%002019", 422),
    ("/map/devices?state=burning", 422),
    ("/map/devices?cursor=eyJpZCI6IDF9", 400),
    ("/wards/{set}/x%00y", 422),
    ("/wards/{set}/{ward}/series?interval_s=60&range=365d", 422),
    ("/wards/NOPE/{ward}", 422),
    ("/wards/no-such-set/{ward}", 404),
    ("/kpis/dossiers/trend?months=25", 422),
    ("/kpis/dossiers/trend?to=0000-01", 422),
    ("/kpis/dossiers/trend?cursor=eyJpZCI6IC0xfQ", 400),
    ("/kpis/dossiers/trend?code=" + "x" * 65, 422),
])
def test_hostile_parameters(client, admin, target, path: str, status: int) -> None:  # type: ignore[no-untyped-def]
    url = path.format(device=target["device"], set=target["set"], ward=target["ward"])
    r = client.get(url, headers=admin.headers)
    assert r.status_code == status, (url, r.text)
    assert r.headers["content-type"].startswith(PROBLEM)
    body = r.json()
    assert body["status"] == status and body.get("detail")
