"""The scorecard and e-government feed routes and topics (issue #14): every route refuses the unauthenticated (401)
and the roles it is not for (403, problem+json), and lets its roles through; over MQTT a device cannot publish to
any unit's e-government topics, and a unit's system publishes its own feeds only — against the real broker."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ops_center.db import Conn
from tests.devices.conftest import Mqtt, eventually, mqtt_client, new_device, service_subscriber
from tests.security.support_h766 import ROLES, ROUTES, RouteCase

__all__ = ["mqtt_client", "new_device", "service_subscriber"]  # fixtures used below
NOT_AUTHORIZED = 0x87


@pytest.fixture(scope="module")
def people(login) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return {role: login(role) for role in ROLES}


@pytest.fixture(scope="module")
def unit(settings) -> str:  # type: ignore[no-untyped-def]
    from ops_center.db import connect

    code = f"SEC-{secrets.token_hex(3)}"
    with connect(settings.database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO units (code, name, level) VALUES (%s, 'UBND xã An Toàn', 'commune')", (code,))
    return code


def _call(client: TestClient, case: RouteCase, unit: str, headers: dict[str, str]) -> Any:
    path = case.path.replace("{unit}", unit)
    if case.method == "GET":
        return client.get(path, params=case.params, headers=headers)
    if case.method == "POST":
        return client.post(path, json=case.body, headers=headers)
    return client.delete(path, headers=headers)


@pytest.mark.parametrize("case", ROUTES, ids=[c.id for c in ROUTES])
def test_roles(client: TestClient, people: dict[str, Any], unit: str, case: RouteCase) -> None:
    r = _call(client, case, unit, {})
    assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")
    for role in ROLES:
        r = _call(client, case, unit, people[role].headers)
        if role in case.allowed:
            assert r.status_code not in (401, 403), (role, r.text)
        else:
            assert r.status_code == 403, (role, r.status_code, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
            assert role in r.json()["detail"]


def test_every_new_route_is_listed(client: TestClient, people: dict[str, Any]) -> None:
    spec = client.get("/openapi.json").json()["paths"]
    ours = {p for p in spec if p.startswith(("/scorecard", "/readiness", "/egov", "/petitions"))}
    listed = {c.path.replace("{unit}", "{code}").replace("2.1", "{indicator}") for c in ROUTES}
    assert ours == {p.replace("export.csv", "export.{fmt}").replace("export.xlsx", "export.{fmt}") for p in listed}


def _connected(mqtt_client: Callable[[str, str], Mqtt], username: str, password: str) -> Mqtt:
    def attempt() -> Mqtt | None:
        m = mqtt_client(username, password)
        return m if not m.connect().is_failure else None
    found: Mqtt = eventually(attempt, f"{username} connects")
    return found


def test_devices_cannot_publish_to_egov_topics(new_device, mqtt_client, unit: str) -> None:  # type: ignore[no-untyped-def]
    d = new_device()
    m = _connected(mqtt_client, d["credentials"]["username"], d["credentials"]["password"])
    for feed in ("dossiers", "documents", "meetings", "petitions"):
        for owner in (unit, d["id"]):
            assert int(m.publish(f"ops/v1/egov/{owner}/{feed}", b"[]").value) == NOT_AUTHORIZED, (owner, feed)


def test_a_units_system_publishes_its_own_feeds_only(client: TestClient, people: dict[str, Any], db: Conn,  # type: ignore[no-untyped-def]
                                                      mqtt_client, service_subscriber: Mqtt, unit: str) -> None:
    r = client.post(f"/egov/units/{unit}/mqtt-credentials", headers=people["admin"].headers)
    assert r.status_code == 200, r.text
    creds = r.json()
    assert creds["username"] == f"unit.{unit}" and creds["subscribe"] == []
    assert creds["publish"] == [f"ops/v1/egov/{unit}/{f}" for f in ("dossiers", "documents", "meetings",
                                                                      "petitions")]
    assert db.execute("SELECT kind FROM mqtt_accounts WHERE username = %s", (creds["username"],)).fetchone() == (
        "unit",)
    m = _connected(mqtt_client, creds["username"], creds["password"])
    other = f"OTHER-{secrets.token_hex(3)}"
    for topic in (f"ops/v1/egov/{other}/petitions", f"ops/v1/egov/{other}/dossiers", "ops/v1/devices/x/telemetry",
                  f"ops/v1/egov/{unit}/alerts", "ops/v1/alerts"):
        assert int(m.publish(topic, b"[]").value) == NOT_AUTHORIZED, topic
    marker = secrets.token_hex(6).encode()
    assert int(m.publish(f"ops/v1/egov/{unit}/meetings", marker).value) == 0
    got = service_subscriber.receive_until(lambda msg: msg.payload == marker)
    assert got[-1].topic == f"ops/v1/egov/{unit}/meetings"
    # it hears nothing (no read rights), even on its own topics: once the broker has delivered a message to the
    # service subscriber it has decided about every subscriber of that topic
    m.subscribe(f"ops/v1/egov/{unit}/#")
    m.subscribe("ops/v1/#")
    assert int(service_subscriber.publish(f"ops/v1/egov/{unit}/meetings", b"from-service").value) == 0
    service_subscriber.receive_until(lambda msg: msg.payload == b"from-service")
    assert all(msg.payload != b"from-service" for msg in list(m.messages.queue))
    # revoked: it can no longer connect
    assert client.delete(f"/egov/units/{unit}/mqtt-credentials", headers=people["admin"].headers).status_code == 204
    eventually(lambda: mqtt_client(creds["username"], creds["password"]).connect().is_failure,
               "the revoked account is refused")
    assert client.delete(f"/egov/units/{unit}/mqtt-credentials",
                         headers=people["admin"].headers).status_code == 404
    assert client.post("/egov/units/NO-SUCH-UNIT/mqtt-credentials",
                       headers=people["admin"].headers).status_code == 404
