"""Hostile input to the routes schemathesis found saying one thing in the OpenAPI document and doing another (the
scorecard, readiness and e-government feeds, charts, map markers, dossier trends, dropped dead letters,
procedures, notification channels, federation): each request below breaks a rule the document states, and the
route refuses it — 422 problem+json naming the parameter, or the documented 413 for a batch too large — where it
used to take ``0`` for a date, ``0.5`` for a time, ``a b`` for a unit code, or a float past 2**63 for an id. And
the document states each of those rules (a pattern, a bound, uniqueness, the status)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

PROBLEM = "application/problem+json"

REFUSED: list[tuple[str, str, Any, str]] = [
    ("GET", "/readiness?from=0", None, "from"),
    ("GET", "/readiness?date=0188-06-02", None, "date"),
    ("GET", "/readiness/facts?unit=a%20b", None, "unit"),
    ("GET", "/scorecard?from=5", None, "from"),
    ("GET", "/scorecard/trend?to=0", None, "to"),
    ("GET", "/scorecard/definition?on=0", None, "on"),
    ("GET", "/devices/any/series?from=0", None, "from"),
    ("GET", "/dead-letters/dropped?since=0.5", None, "since"),
    ("GET", "/kpis/dossiers/trend?to=2200-01", None, "to"),
    ("GET", "/map/devices?set=", None, "set"),
    ("POST", "/egov/units/a%20b/mqtt-credentials", None, "code"),
    ("POST", "/egov/dead-letters/replay", {"feed": "facts", "ids": [9223372036854775999]}, "ids.0"),
    ("POST", "/egov/dead-letters/replay", {"feed": "facts", "limit": "5"}, "limit"),
    ("PUT", "/procedures/P-DOC", {"name": "Cấp phép", "processing_days": 1, "parts": ["name", "name"]}, "parts"),
    ("PUT", "/procedures/P-DOC", {"name": " \u3000 ", "processing_days": 1}, "name"),
    ("PUT", "/procedures/P-DOC", {"name": "Cấp phép", "processing_days": 1, "public_date": "1999-12-31"},
     "public_date"),
    ("PUT", "/notify-channels/1", {"name": "hook", "type": "webhook",
                                   "config": {"url": "http://127.0.0.1:9/h", "headers": {"X-A": "v\n"}}},
     "config.headers"),
    ("POST", "/notify-channels", {"name": "hook-doc", "type": "webhook", "config": {"url": "http://x[e76c50:f]/"}},
     "config.url"),  # no HTTP client can send there (urlsplit: not an IPv6 address)
]


@pytest.mark.parametrize(("method", "path", "doc", "field"), REFUSED, ids=[f"{m} {p}" for m, p, *_ in REFUSED])
def test_what_the_document_forbids_is_refused(client: TestClient, admin, method: str, path: str, doc: Any,  # type: ignore[no-untyped-def]
                                              field: str) -> None:
    content = json.dumps(doc).encode() if doc is not None else None
    r = client.request(method, path, content=content, headers={**admin.headers, "Content-Type": "application/json"})
    assert r.status_code == 422, (r.status_code, r.text)
    assert r.headers["content-type"].startswith(PROBLEM)
    assert field in r.text, r.text


@pytest.mark.parametrize("path", ["/petitions/events", "/egov/documents", "/egov/meetings", "/readiness/facts"])
def test_a_batch_too_large_is_the_documented_413(client: TestClient, admin, path: str) -> None:  # type: ignore[no-untyped-def]
    r = client.post(path, content=b"[" + b",".join([b"0"] * 10_001) + b"]",
                    headers={**admin.headers, "Content-Type": "application/json"})
    assert r.status_code == 413 and r.headers["content-type"].startswith(PROBLEM), r.text
    assert "413" in client.get("/openapi.json").json()["paths"][path]["post"]["responses"]


def test_the_document_states_the_rules(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    paths, schemas = doc["paths"], doc["components"]["schemas"]

    def param(path: str, name: str) -> dict[str, Any]:
        found: dict[str, Any] = next(p["schema"] for p in paths[path]["get" if "get" in paths[path] else "post"]
                                     ["parameters"] if p["name"] == name)
        return found

    assert not re.search(param("/readiness", "date")["pattern"], "1999-12-31")
    assert not re.search(param("/readiness/facts", "unit")["pattern"], "a b")
    assert not re.search(param("/kpis/dossiers/trend", "to")["pattern"], "2200-01")
    assert not re.search(param("/map/devices", "set")["pattern"], "")
    assert param("/scorecard", "from")["format"] == "date" and param("/dead-letters/dropped", "since")["format"] \
        == "date-time"
    procedure = schemas["ProcedureIn"]["properties"]
    assert procedure["parts"]["uniqueItems"] is True and not re.search(procedure["name"]["pattern"], " \u3000 ")
    values = schemas["DraftIn"]["properties"]["values"]
    assert values["additionalProperties"] is False
    for path, method in [("/national/metrics", "get"), ("/national/provinces", "post"), ("/federation/outbox", "get"),
                         ("/federation/outbox/replay", "post"), ("/federation/v1/snapshots", "post")]:
        assert "404" in paths[path][method]["responses"], path  # not this instance's federation mode
    assert "401" in paths["/federation/v1/heartbeat"]["post"]["responses"]
