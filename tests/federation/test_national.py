"""The national instance: what it refuses (each with problem+json naming the field, and a dead letter), schema
versions, a province's clock ahead, the map of 34 provinces, a silent province alerting through the alerts
engine, and the national PDF brief."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from ops_center.federation import periods
from ops_center.federation.wire import SCHEMA_ID
from tests.federation.conftest import National, national_user
from tests.federation.support import rows

CODE = "01"
RULES = Path(__file__).resolve().parents[2] / "alerts" / "data" / "national-rules.yaml"


@pytest.fixture(scope="module")
def token(national: National) -> str:
    return national.register(CODE, schedule_s=30)


def envelope(kind: str = "incidents_open", version: int = 1, period: str | None = None, **over: Any
             ) -> dict[str, Any]:
    data = {"open_total": 3, "open_overdue": 1, "reported_in_period": 4, "resolved_in_period": 1,
            "open": [{"severity": "major", "category": "flooding", "count": 3}]}
    env = {"schema": SCHEMA_ID, "schema_version": "1.0", "province": CODE, "kind": kind,
           "period": period or periods.month_of(datetime.now(UTC)), "version": version,
           "generated_at": datetime.now(UTC).isoformat(), "data": data}
    env.update(over)
    return env


def post(national: National, token: str, body: Any, *, raw: bytes | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if raw is not None:
        return httpx.post(f"{national.url}/federation/v1/snapshots", content=raw, headers=headers)
    return httpx.post(f"{national.url}/federation/v1/snapshots", json=body, headers=headers)


def dead_letters(national: National) -> int:
    return int(rows(national.settings.database_url, "SELECT count(*) FROM federation_dead_letters")[0][0])


@pytest.mark.parametrize(("body", "status", "reason", "field"), [
    (envelope(schema_version="2.0"), 422, "unsupported_schema_version", "schema_version"),
    (envelope(schema_version="one"), 422, "invalid", "schema_version"),
    (envelope(kind="citizens"), 422, "unknown_kind", "kind"),
    (envelope(province="02"), 403, "foreign_province", "province"),
    (envelope(period="2999-01"), 422, "future_period", "period"),
    (envelope(period="2025-13"), 422, "invalid", "period"),
    (envelope(version=0), 422, "invalid", "version"),
    (envelope(version="3"), 422, "invalid", "version"),
    (envelope(extra_field=1), 422, "invalid", "extra_field"),
    (envelope(data={"open_total": -1}), 422, "invalid", "data.open_total"),
    (envelope(data={"open_total": 1, "open_overdue": 0, "reported_in_period": 0, "resolved_in_period": 0,
                    "open": [{"severity": "major", "category": "a\x00b", "count": 1}]}), 422, "invalid",
     "data.open[0].category"),
    (envelope(data={"open_total": 1, "open_overdue": 0, "reported_in_period": 0, "resolved_in_period": 0,
                    "open": [], "reporter_phone": "0912345678"}), 422, "invalid", "data.reporter_phone"),
    ([1, 2], 422, "invalid", "body"),
])
def test_refused_snapshots_are_problems_and_dead_letters(national: National, token: str, body: Any, status: int,
                                                         reason: str, field: str) -> None:
    before = dead_letters(national)
    r = post(national, token, body)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert (problem["reason"], problem["field"]) == (reason, field), problem
    assert field.split(".")[-1].split("[")[0] in problem["detail"]
    assert dead_letters(national) == before + 1
    letter = rows(national.settings.database_url, "SELECT province, reason, field, status FROM federation_dead_letters "
                  "WHERE id = %s", (problem["dead_letter_id"],))
    assert letter == [(CODE, reason, field, status)]


def test_malformed_nul_and_oversized_bodies(national: National, token: str) -> None:
    before = dead_letters(national)
    r = post(national, token, None, raw=b'{"schema": "ops')
    assert (r.status_code, r.json()["reason"]) == (400, "malformed_json")
    r = post(national, token, None, raw=b"\x00\x01\xff")
    assert (r.status_code, r.json()["reason"]) == (400, "malformed_json")
    big = b'{"x": "' + b"a" * (national.cfg.max_body_bytes + 10) + b'"}'
    r = post(national, token, None, raw=big)
    assert (r.status_code, r.json()["reason"]) == (413, "too_large")
    assert dead_letters(national) == before + 3
    sizes = rows(national.settings.database_url, "SELECT payload_size, length(payload) FROM federation_dead_letters "
                 "ORDER BY id DESC LIMIT 1")
    assert sizes[0][0] > national.cfg.max_body_bytes and sizes[0][1] <= 65536  # kept, capped


def test_unauthenticated_requests_leave_no_dead_letter(national: National) -> None:
    before = dead_letters(national)
    r = httpx.post(f"{national.url}/federation/v1/snapshots", json=envelope())
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
    assert dead_letters(national) == before


def test_a_newer_minor_version_is_read_leniently(national: National, token: str) -> None:
    env = envelope(schema_version="1.4", version=10, trace_id="abc")
    env["data"] = {**env["data"], "new_figure": 7}
    r = post(national, token, env)
    assert r.status_code == 201, r.text
    assert r.json()["ignored_fields"] == ["Envelope.trace_id", "IncidentsOpen.new_figure"]
    stored = rows(national.settings.database_url, "SELECT data ? 'new_figure', schema_version FROM "
                  "federation_snapshots WHERE province = %s AND kind = 'incidents_open' AND version = 10", (CODE,))
    assert stored == [(False, "1.4")]


def test_a_province_clock_ahead_is_flagged_and_never_orders_versions(national: National, token: str) -> None:
    ahead = datetime.now(UTC) + timedelta(hours=2)
    r = post(national, token, envelope(version=20, generated_at=ahead.isoformat()))
    assert r.status_code == 201
    behind = post(national, token, envelope(version=21, generated_at=(ahead - timedelta(hours=3)).isoformat()))
    assert behind.json()["outcome"] == "stored"  # the version decides, not the clock
    skew, contact = rows(national.settings.database_url, "SELECT clock_skew_s, last_contact_at FROM "
                         "federation_provinces WHERE code = %s", (CODE,))[0]
    assert 7000 < skew < 7300
    assert abs((contact - datetime.now(UTC)).total_seconds()) < 60  # freshness from this instance's clock


def national_client(national: National) -> httpx.Client:
    return httpx.Client(base_url=national.url, timeout=30)


def staff_headers(client: httpx.Client, national: National, role: str) -> dict[str, str]:
    username, password = national_user(national, role)
    r = client.post("/auth/token", data={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_the_map_shows_34_provinces_ranked_with_freshness(national: National, token: str) -> None:
    for i, (code, rate) in enumerate([("01", 0.9), ("79", 0.7), ("48", 0.95)]):
        tok = token if code == CODE else national.register(code, schedule_s=60)
        data = {"province": {"received": {"online_l3": 1, "online_l4": 1, "counter": 1, "postal": 1, "total": 4},
                             "resolved": 10, "resolved_on_time": int(rate * 10), "open_overdue": i,
                             "on_time_rate": rate, "online_share": 0.5, "postal_receive_share": None,
                             "postal_return_share": None}, "units": []}
        r = post(national, tok, envelope(kind="dossier_kpis", province=code, period="2026-01", data=data, version=3))
        assert r.status_code in (200, 201), r.text
    with national_client(national) as client:
        headers = staff_headers(client, national, "leader")
        r = client.get("/national/map", params={"metric": "dossier_kpis.on_time_rate", "period": "2026-01"},
                       headers=headers)
        assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
        fc = r.json()
        assert len(fc["features"]) == 34 and fc["ranking"] == ["48", "01", "79"]
        by = {f["id"]: f for f in fc["features"]}
        assert by["48"]["properties"]["rank"] == 1 and by["48"]["properties"]["value"] == 0.95
        assert by["96"]["properties"]["name"] == "Tỉnh Cà Mau" and by["96"]["geometry"]["type"] == "MultiPolygon"
        assert by["01"]["properties"]["freshness"] == "fresh"
        assert by["04"]["properties"]["freshness"] == "not_connected" and by["04"]["properties"]["rank"] is None
        worst = client.get("/national/map", params={"metric": "dossier_kpis.open_overdue", "period": "2026-01",
                                                    "geometry": "false"}, headers=headers).json()
        assert worst["ranking"] == ["01", "79", "48"] and worst["higher_is_better"] is False
        assert worst["features"][0]["geometry"] is None
        r = client.get("/national/map", params={"metric": "nope.x"}, headers=headers)
        assert r.status_code == 422 and "metric" in r.json()["detail"]
        provs = client.get("/national/provinces", headers=headers).json()
        assert len(provs["items"]) == 34 and provs["items"][0]["code"] == "01"
        metrics = client.get("/national/metrics", headers=headers).json()["items"]
        assert {"dossier_kpis.on_time_rate", "alerts_open.open_total"} <= {m["metric"] for m in metrics}


def test_a_silent_province_raises_an_alert_through_the_alerts_engine(national: National) -> None:
    from alerts import rule_files, scheduled
    from ops_center.db import connect

    national.register("92", schedule_s=1)
    with connect(national.settings.database_url) as conn:
        rule_files.apply(conn, rule_files.parse_file(RULES), actor="test")
        conn.execute("UPDATE federation_provinces SET token_issued_at = now() - interval '1 hour', "
                     "last_contact_at = now() - interval '10 seconds' WHERE code = '92'")
        conn.commit()
        later = datetime.now(UTC) + timedelta(seconds=1)
        scheduled.evaluate(conn, now=later)
        conn.commit()
        fired = conn.execute("SELECT subject, labels->>'province', summary FROM alerts WHERE ends_at IS NULL "
                             "AND rule_name LIKE 'Tỉnh mất liên lạc%'").fetchall()
    assert ("province:92", "92") in [(s, p) for s, p, _ in fired]
    assert any("92" in summary and "silent" in summary for _, _, summary in fired)


def test_the_national_brief_is_a_pdf_in_vietnamese(national: National) -> None:
    with national_client(national) as client:
        headers = staff_headers(client, national, "leader")
        r = client.get("/national/brief.pdf", params={"period": "2026-01"}, headers=headers)
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    pdftotext = shutil.which("pdftotext")
    assert pdftotext, "pdftotext (poppler-utils) is needed to read the brief"
    text = subprocess.run([pdftotext, "-layout", "-", "-"], input=r.content, capture_output=True, check=True
                          ).stdout.decode()
    assert "BẢN TIN GIÁM SÁT THÁNG 01/2026" in text and "Đà Nẵng" in text and "Cà Mau" in text


def test_a_province_snapshots_paginate_without_gaps(national: National, token: str) -> None:
    for period in ("2025-11", "2025-12"):
        for kind, data in (("incidents_open", envelope()["data"]),
                           ("alerts_open", {"open_total": 1, "muted": 0, "acknowledged": 0, "open": [],
                                            "fired_in_period": 1})):
            assert post(national, token, envelope(kind=kind, period=period, data=data, version=1)).status_code in (
                200, 201)
    with national_client(national) as client:
        headers = staff_headers(client, national, "leader")
        everything = client.get(f"/national/provinces/{CODE}/snapshots", params={"limit": 200}, headers=headers)
        want = [(i["period"], i["kind"]) for i in everything.json()["items"]]
        got: list[tuple[str, str]] = []
        cursor = None
        while True:
            page = client.get(f"/national/provinces/{CODE}/snapshots", headers=headers,
                              params={"limit": 1, **({"cursor": cursor} if cursor else {})}).json()
            got += [(i["period"], i["kind"]) for i in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert got == want and len(want) >= 4 and len(set(want)) == len(want)
        assert client.get(f"/national/provinces/{CODE}/snapshots", params={"cursor": "%%%"},
                          headers=headers).status_code == 400
