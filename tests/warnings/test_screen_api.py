"""What the screens read besides the workflow: the drafting form's dry run (``POST /warnings/compose``: the
template's content, nothing written), the levels a hazard may take, the person's rights (``/auth/me``), and the
warnings issued in a period (``GET /warnings?issued_from=&issued_to=`` and ``alerts.warnings.issued``, which the
leaders' view and the daily brief show)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from alerts.warnings.issued import issued_between
from ops_center.db import Conn
from tests.warnings.conftest import RealWard, fire_alert, publish_flow


def _count(conn: Conn, table: str) -> int:
    row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    conn.commit()
    assert row is not None
    return int(row[0])


def test_compose_fills_the_form_from_the_alert_and_writes_nothing(client: TestClient, people: dict[str, Any],
                                                                 conn: Conn, ward: RealWard) -> None:
    alert = fire_alert(conn, ward=ward.code, value=6.5)
    before = (_count(conn, "warnings"), _count(conn, "warning_messages"), _count(conn, "warning_events"))
    r = client.post("/warnings/compose", json={"alerts": [alert["id"]]}, headers=people["operator"].headers)
    assert r.status_code == 200, r.text
    content = r.json()["content"]
    assert content["hazard"] == "salinity" and content["wards"] == [ward.code]
    assert content["ward_names"] == {ward.code: ward.name}
    assert content["risk_level"] == 1 and content["severity"] == "Minor"
    assert "6,5‰" in content["texts"]["vi"]["headline"] and "6.5‰" in content["texts"]["en"]["headline"]
    assert (_count(conn, "warnings"), _count(conn, "warning_messages"), _count(conn, "warning_events")) == before

    # the operator changes the level and a text: severity follows the level, the other texts stay the template's
    r = client.post("/warnings/compose", headers=people["operator"].headers, json={
        "alerts": [alert["id"]], "risk_level": 3, "texts": {"vi": {"instruction": "Đóng cống Xẻo Rô ngay."}}})
    assert r.status_code == 200, r.text
    content = r.json()["content"]
    assert content["severity"] == "Severe" and content["texts"]["vi"]["instruction"] == "Đóng cống Xẻo Rô ngay."
    assert "cấp 3" in content["texts"]["vi"]["description"]
    r = client.post("/warnings/compose", headers=people["operator"].headers,
                    json={"alerts": [alert["id"]], "risk_level": 2, "severity": "Extreme"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "severity", r.text


def test_templates_say_which_levels_a_hazard_takes(client: TestClient, people: dict[str, Any]) -> None:
    body = client.get("/warnings/templates", headers=people["leader"].headers).json()
    assert body["hazard_levels"]["salinity"] == [1, 2, 3, 4]
    assert body["hazard_levels"]["storm"] == [3, 4, 5]
    assert "high_tide" not in body["hazard_levels"]  # severity follows the template's band there


def test_issued_in_a_period(client: TestClient, people: dict[str, Any], conn: Conn, ward: RealWard) -> None:
    w = publish_flow(client, people["operator"], people["leader"],
                     {"alerts": [fire_alert(conn, ward=ward.code, value=9.1)["id"]]})
    now = datetime.now(UTC)
    period = {"issued_from": (now - timedelta(hours=1)).isoformat(), "issued_to": (now + timedelta(hours=1)).isoformat()}
    items = client.get("/warnings", params={**period, "limit": 200}, headers=people["leader"].headers).json()["items"]
    mine = next(i for i in items if i["id"] == w["id"])
    assert mine["state"] == "active" and mine["first_sent"] == mine["sent"]
    assert mine["ward_names"] == {ward.code: ward.name} and mine["severity"] == "Moderate"
    earlier = {"issued_from": (now - timedelta(days=2)).isoformat(), "issued_to": (now - timedelta(days=1)).isoformat()}
    items = client.get("/warnings", params=earlier, headers=people["leader"].headers).json()["items"]
    assert all(i["id"] != w["id"] for i in items)

    def ids(**params: str) -> set[int]:
        r = client.get("/warnings", params={**params, "limit": 200}, headers=people["leader"].headers)
        assert r.status_code == 200, r.text
        return {i["id"] for i in r.json()["items"]}

    assert w["id"] in ids(issued_from=period["issued_from"])  # an end not given is open
    assert w["id"] not in ids(issued_to=earlier["issued_to"])
    assert ids(issued_from=period["issued_to"], issued_to=period["issued_from"]) == set()  # an empty period

    report = issued_between(conn, now - timedelta(hours=1), now + timedelta(hours=1), now)
    row = next(r for r in report.warnings if r.id == w["id"])
    assert row.ward_names == (ward.name,) and row.last_type == "Alert" and row.state == "active"
    assert any(c.hazard == "salinity" and c.severity == "Moderate" and c.count >= 1 for c in report.counts)
    assert sum(c.count for c in report.counts) == len(report.warnings) and not report.truncated
