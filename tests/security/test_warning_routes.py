"""Security of the public-warning routes (#16): the role matrix of every staff route (the publishing right is a
permission of admin and leader; drafting of admin and operator), the public feed open to anyone but limited per
client and blind to anything unpublished, and hostile, oversized and NUL input on every write path refused with 422
naming the field."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from alerts.warnings.config import get_config
from ops_center.settings import Settings

ANON = "anonymous"
ROLES = ("admin", "operator", "leader", "integration")
STAFF = {"admin", "operator", "leader"}
DRAFTERS = {"admin", "operator"}
PUBLISHERS = {"admin", "leader"}
NOBODY = 2**40  # a warning id that does not exist: an authorised request ends in 404, 409 or 422, never 401/403

# (method, route path as the app declares it, concrete path, JSON body, roles allowed; None = public)
MATRIX: list[tuple[str, str, str, Any, set[str] | None]] = [
    ("GET", "/warnings", "/warnings", None, STAFF),
    ("POST", "/warnings", "/warnings", {"hazard": "no_such_hazard"}, DRAFTERS),
    ("GET", "/warnings/templates", "/warnings/templates", None, STAFF),
    ("POST", "/warnings/compose", "/warnings/compose", {"hazard": "no_such_hazard"}, DRAFTERS),
    ("GET", "/warnings/{warning_id}", f"/warnings/{NOBODY}", None, STAFF),
    ("GET", "/warnings/{warning_id}/preview.xml", f"/warnings/{NOBODY}/preview.xml", None, STAFF),
    ("PATCH", "/warnings/{warning_id}", f"/warnings/{NOBODY}", {"version": 1}, DRAFTERS),
    ("POST", "/warnings/{warning_id}/approve", f"/warnings/{NOBODY}/approve", {"version": 1}, PUBLISHERS),
    ("POST", "/warnings/{warning_id}/reject", f"/warnings/{NOBODY}/reject", {"version": 1}, PUBLISHERS),
    ("POST", "/warnings/{warning_id}/publish", f"/warnings/{NOBODY}/publish", None, DRAFTERS | PUBLISHERS),
    ("POST", "/warnings/{warning_id}/update", f"/warnings/{NOBODY}/update", {}, DRAFTERS),
    ("POST", "/warnings/{warning_id}/cancel", f"/warnings/{NOBODY}/cancel", {"reason": "Nhầm lẫn"}, DRAFTERS),
    ("DELETE", "/warnings/{warning_id}/draft", f"/warnings/{NOBODY}/draft", None, DRAFTERS),
    ("GET", "/warning-subscriptions", "/warning-subscriptions", None, {"admin"}),
    ("POST", "/warning-subscriptions", "/warning-subscriptions", {"channel": "no-such-channel"}, {"admin"}),
    ("DELETE", "/warning-subscriptions/{subscription_id}", f"/warning-subscriptions/{NOBODY}", None, {"admin"}),
    ("GET", "/cap/feed.atom", "/cap/feed.atom", None, None),
    ("GET", "/cap/messages/{identifier}.xml", "/cap/messages/vn.camau.ioc.20250101.1.xml", None, None),
    ("GET", "/cap/certificate.pem", "/cap/certificate.pem", None, None),
]


@pytest.fixture(scope="module")
def tokens(login: Any) -> dict[str, dict[str, str]]:
    return {ANON: {}, **{role: login(role).headers for role in ROLES}}


def test_every_warning_route_is_in_the_matrix(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    declared = {(m.upper(), p) for p, ops in paths.items() for m in ops
                if p.startswith(("/warnings", "/warning-subscriptions", "/cap/"))}
    assert declared == {(m, p) for m, p, *_ in MATRIX}


@pytest.mark.parametrize(("method", "route", "path", "body", "allowed"), MATRIX, ids=[f"{m} {r}" for m, r, *_ in MATRIX])
@pytest.mark.parametrize("who", [ANON, *ROLES])
def test_role_matrix(client: TestClient, tokens: dict[str, dict[str, str]], who: str, method: str, route: str,
                     path: str, body: Any, allowed: set[str] | None) -> None:
    r = client.request(method, path, json=body, headers=tokens[who])
    if allowed is None:  # public: nobody is asked who they are
        assert r.status_code in (200, 404), (who, r.status_code, r.text)
    elif who == ANON:
        assert r.status_code == 401, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
    elif who in allowed:
        assert r.status_code in (200, 404, 409, 422), (who, r.status_code, r.text)
    else:
        assert r.status_code == 403, (who, r.status_code, r.text)


def _draft(client: TestClient, tokens: dict[str, dict[str, str]], camau_wards: list[str], headline: str) -> int:
    texts = {lang: {"event": "Sự cố cấp nước", "headline": headline, "description": "Mất nước sạch tạm thời.",
                    "instruction": "Trữ nước sạch."} for lang in ("vi", "en")}
    r = client.post("/warnings", headers=tokens["operator"], json={
        "hazard": "other", "wards": camau_wards[:2], "category": "Infra", "event_codes": ["OET-144"],
        "response_type": "Prepare", "severity": "Minor", "certainty": "Observed", "texts": texts,
        "expires": (datetime.now(UTC) + timedelta(hours=6)).isoformat()})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


@pytest.fixture(scope="module")
def camau_wards(settings: Settings) -> list[str]:
    from geo.demo import ensure_demo
    from ops_center.db import connect

    with connect(settings.database_url, autocommit=True) as conn:
        ensure_demo(conn, settings.data_dir, say=lambda _: None)
        return [r[0] for r in conn.execute("SELECT code FROM boundary_units WHERE set_name = 'camau-2025' "
                                           "AND level = 'ward' ORDER BY code LIMIT 5").fetchall()]


def test_public_side_never_shows_unpublished_content(client: TestClient, tokens: dict[str, dict[str, str]],
                                                     camau_wards: list[str]) -> None:
    draft_only = _draft(client, tokens, camau_wards, "Nháp bí mật 01")
    approved = _draft(client, tokens, camau_wards, "Đã duyệt chưa gửi 02")
    assert client.post(f"/warnings/{approved}/approve", json={"version": 1},
                       headers=tokens["leader"]).status_code == 200
    for headers in ({}, tokens["admin"]):  # credentials change nothing on the public side
        feed = client.get("/cap/feed.atom", headers=headers).text
        assert "Nháp bí mật 01" not in feed and "Đã duyệt chưa gửi 02" not in feed
    detail = client.get(f"/warnings/{approved}", headers=tokens["leader"]).json()
    message_id = next(m["id"] for m in detail["messages"])
    for guess in (str(message_id), f"vn.camau.ioc.{datetime.now(UTC):%Y%m%d}.{message_id}", str(draft_only)):
        assert client.get(f"/cap/messages/{guess}.xml").status_code == 404


@pytest.fixture
def five_a_minute(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("OPS_CAP_FEED_RATE", "5/minute")
    get_config.cache_clear()
    yield
    get_config.cache_clear()


def test_public_routes_are_rate_limited(settings: Settings, five_a_minute: None) -> None:
    from api.app import create_app

    with TestClient(create_app(settings), client=("198.51.100.23", 41000)) as c:
        codes = [c.get(p).status_code for p in ["/cap/feed.atom", "/cap/certificate.pem",
                                                "/cap/messages/x.xml"] * 2]
        assert codes == [200, 200, 404, 200, 200, 429]


NUL = "\x00"
HUGE = "x" * 100_000


def _hostile_cases() -> list[tuple[str, str, Any, str]]:
    """(method, path, body, the field the 422 must name)."""
    w = f"/warnings/{NOBODY}"
    return [
        ("POST", "/warnings", {"texts": {"vi": {"headline": f"a{NUL}b"}}}, "texts.vi.headline"),
        ("POST", "/warnings", {"texts": {"en": {"description": HUGE}}}, "texts.en.description"),
        ("POST", "/warnings", {"texts": {"vi": {"instruction": "bell \x07"}}}, "texts.vi.instruction"),
        ("POST", "/warnings", {"texts": {"vi": {"headline": "\ud800"}}}, "texts.vi.headline"),
        ("POST", "/warnings", {"texts": {"vi": {"headline": "hai\ndòng"}}}, "texts.vi.headline"),
        ("POST", "/warnings", {"wards": ["32005", f"3{NUL}"]}, "wards.1"),
        ("POST", "/warnings", {"wards": ["1"] * 1001}, "wards"),
        ("POST", "/warnings", {"alerts": [0]}, "alerts.0"),
        ("POST", "/warnings", {"alerts": [2**63]}, "alerts.0"),
        ("POST", "/warnings", {"values": {"value": f"6{NUL}"}}, "values.value"),
        ("POST", "/warnings", {"values": {f"v{NUL}": 1}}, "values"),
        ("POST", "/warnings", {"values": {"value": float("nan")}}, "values.value"),
        ("POST", "/warnings", {"onset": "2025-07-10T08:00:00"}, "onset"),
        ("POST", "/warnings", {"event_codes": ["OET-075'; DROP TABLE warnings; --"]}, "event_codes.0"),
        ("POST", "/warnings", {"hazard": "<script>"}, "hazard"),
        ("POST", "/warnings", {"risk_level": 9}, "risk_level"),
        ("POST", "/warnings", {"note": HUGE}, "note"),
        ("POST", "/warnings", {"unknown": 1}, "unknown"),
        ("PATCH", w, {"version": 2**40}, "version"),
        ("PATCH", w, {"version": 1, "texts": {"en": {"event": NUL}}}, "texts.en.event"),
        ("POST", f"{w}/approve", {"version": 1, "note": f"ok{NUL}"}, "note"),
        ("POST", f"{w}/approve", {}, "version"),
        ("POST", f"{w}/reject", {"version": -1}, "version"),
        ("POST", f"{w}/update", {"texts": {"vi": {"description": NUL}}}, "texts.vi.description"),
        ("POST", f"{w}/cancel", {"reason": HUGE}, "reason"),
        ("POST", f"{w}/cancel", {"reason": f"x{NUL}"}, "reason"),
        ("POST", f"{w}/approve", {"version": 1, "note": ""}, "note"),  # empty: the schema's pattern says so
        ("POST", f"{w}/reject", {"version": 1, "note": " \n "}, "note"),
        ("POST", f"{w}/cancel", {"reason": "\u3000"}, "reason"),
        ("POST", "/warnings", {"values": {"": 1}}, "values"),  # a name the schema does not allow (no extra names)
        ("POST", "/warning-subscriptions", {"channel": f"hook{NUL}"}, "channel"),
        ("POST", "/warning-subscriptions", {"channel": "hook", "wards": [NUL]}, "wards.0"),
        ("POST", "/warning-subscriptions", {"channel": "hook", "cap_statuses": ["Draft"]}, "cap_statuses.0"),
        ("GET", f"/warnings/{2**63}", None, "path.warning_id"),
        ("POST", "/warnings/compose", {"texts": {"vi": {"headline": f"a{NUL}b"}}}, "texts.vi.headline"),
        ("POST", "/warnings/compose", {"wards": ["1"] * 1001}, "wards"),
        ("POST", "/warnings/compose", {"values": {"value": HUGE}}, "values.value"),
        ("GET", "/warnings?issued_from=2025-07-01T00:00:00&issued_to=2025-07-02T00:00:00%2B07:00", None,
         "query.issued_from"),
        ("GET", "/warnings?issued_from=9999-01-01T00:00:00%2B07:00&issued_to=9999-01-02T00:00:00%2B07:00", None,
         "query.issued_from"),
    ]


@pytest.mark.parametrize(("method", "path", "body", "field"), _hostile_cases(),
                         ids=[f"{m} {p[:30]} {f}" for m, p, _, f in _hostile_cases()])
def test_hostile_input_is_refused_naming_the_field(client: TestClient, tokens: dict[str, dict[str, str]],
                                                   method: str, path: str, body: Any, field: str) -> None:
    who = "leader" if path.endswith(("/approve", "/reject")) else "admin"
    raw = json.dumps(body) if body is not None else None  # json.dumps carries NaN and lone surrogates as sent
    r = client.request(method, path, content=raw, headers={**tokens[who], "Content-Type": "application/json"})
    assert r.status_code == 422, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/problem+json")
    fields = [e["field"] for e in r.json()["errors"]]
    assert any(f == field or f.startswith(field + ".") for f in fields), (field, fields)
