"""#11 item 15: the OpenAPI document describes what the API does — a valid OpenAPI 3.1 document (checked with
openapi-spec-validator), problem+json for every error (Open311: GeoReport's format), every 4xx a route's
dependencies and signature imply, real request bodies, real parameter patterns and limits — and every method a path
does not support answers 405 with an ``Allow`` header naming exactly the documented methods.

What the routes actually answer is checked against this document by schemathesis (test_schemathesis.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openapi_spec_validator import validate

from tests.conftest import Login

METHODS = ("get", "put", "post", "delete", "patch")
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
PARAMETER_PATTERN = "^[^\\x00-\\x1f\\x7f]*$"  # no control characters (api.parameters)


@pytest.fixture(scope="module")
def doc(client: TestClient) -> dict[str, Any]:
    r = client.get("/openapi.json")
    assert r.status_code == 200
    return dict(r.json())


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def test_the_document_is_valid_openapi(doc: dict[str, Any]) -> None:
    validate(doc)  # raises, naming the place, if the document breaks the OpenAPI 3.1 schema
    assert doc["openapi"].startswith("3.1")
    assert "HTTPValidationError" not in doc["components"]["schemas"]  # FastAPI's default 422, not what we answer


def test_every_error_is_problem_json_or_open311(doc: dict[str, Any]) -> None:
    wrong = []
    for path, method, operation in operations(doc):
        for status, response in operation["responses"].items():
            if int(status) < 400:
                continue
            content = response.get("content", {})
            if path.startswith("/open311/"):
                ok = content.get("application/json", {}).get("schema", {}).get("items") == {
                    "$ref": "#/components/schemas/Open311Error"}
            else:
                ok = content == {"application/problem+json": {"schema": PROBLEM_REF}}
            if not ok:
                wrong.append((method.upper(), path, status, content))
    assert not wrong, wrong


def test_the_errors_each_route_implies_are_documented(doc: dict[str, Any]) -> None:
    missing = []
    for path, method, operation in operations(doc):
        documented = set(operation["responses"])
        expected = set()
        if operation.get("security"):
            expected.add("401")
        params = operation.get("parameters", [])
        if params or "requestBody" in operation:
            expected.add("400" if path.startswith("/open311/") else "422")
        if any(p["in"] == "path" for p in params):
            expected.add("404")
        if "requestBody" in operation:
            expected.add("400")
        if any(p["name"] == "cursor" for p in params):
            expected.add("400")
        if expected - documented:
            missing.append((method.upper(), path, sorted(expected - documented)))
    assert not missing, missing
    assert "403" in doc["paths"]["/devices"]["post"]["responses"]  # role checks declare theirs
    assert "409" in doc["paths"]["/devices"]["post"]["responses"]  # and routes what only they know
    unavailable = doc["paths"]["/alerts"]["get"]["responses"]["503"]
    assert "Retry-After" in unavailable["headers"]
    assert "WWW-Authenticate" in doc["paths"]["/alerts"]["get"]["responses"]["401"]["headers"]


def test_request_bodies_have_real_schemas(doc: dict[str, Any]) -> None:
    def resolve(schema: dict[str, Any]) -> dict[str, Any]:
        ref = schema.get("$ref", "")
        return dict(doc["components"]["schemas"][ref.rsplit("/", 1)[1]]) if ref else schema

    vague = []
    for path, method, operation in operations(doc):
        if "see ops_center" in operation.get("description", "").lower():
            vague.append((method.upper(), path, "description points at a module"))
        for media, content in operation.get("requestBody", {}).get("content", {}).items():
            schema = resolve(content["schema"])
            described = any(k in schema for k in ("properties", "anyOf", "oneOf", "items", "enum"))
            if not described:
                vague.append((method.upper(), path, media, schema))
    assert not vague, vague
    events = doc["paths"]["/dossiers/events"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    batch = events["oneOf"][0]  # the schema generated from the validator (ops_center.dossiers.schema)
    assert batch["type"] == "array" and batch["maxItems"] == 10_000
    variants = {o["title"]: o for o in batch["items"]["oneOf"]}
    assert {"received event", "resolved event", "returned event"} <= set(variants)
    assert set(variants["received event"]["required"]) == {"dossier_id", "at", "type", "channel", "procedure",
                                                            "unit"}
    rule = doc["paths"]["/alert-rules"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert {o["$ref"].rsplit("/", 1)[1] for o in rule["oneOf"]} == {
        "ThresholdRule", "RateRule", "AbsenceRule", "GeoCountRule", "KpiRule", "ProvinceSilenceRule"}


def test_parameters_state_their_patterns_and_limits(doc: dict[str, Any]) -> None:
    loose = []
    for path, method, operation in operations(doc):
        for param in operation.get("parameters", []):
            for option in param["schema"].get("anyOf", [param["schema"]]):
                schema = option.get("items", option) if option.get("type") == "array" else option
                kind = schema.get("type")
                if kind == "string":
                    ok = "pattern" in schema or "enum" in schema or "format" in schema
                    if param["in"] == "path":
                        ok = ok and ("enum" in schema or schema.get("pattern") != PARAMETER_PATTERN
                                     or "maxLength" in schema)
                elif kind in ("integer", "number"):
                    ok = "minimum" in schema and "maximum" in schema
                else:
                    ok = kind in ("boolean", "null")
                if not ok:
                    loose.append((method.upper(), path, param["name"], schema))
    assert not loose, loose
    ward = next(p for p in doc["paths"]["/devices"]["get"]["parameters"] if p["name"] == "ward")
    assert ward["schema"]["type"] == "string" and ward["schema"]["maxLength"] == 64
    assert ward["schema"]["pattern"] == PARAMETER_PATTERN
    device = next(p for p in doc["paths"]["/devices/{device_id}"]["get"]["parameters"])
    assert device["schema"]["pattern"] == "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


def test_unsupported_methods_answer_405_with_allow(client: TestClient, admin: Login, doc: dict[str, Any]) -> None:
    wrong = []
    for path, item in doc["paths"].items():
        allowed = documented = {m.upper() for m in item if m in METHODS}  # FastAPI routes do not answer HEAD
        url = path.replace("{fmt}", "json")
        for segment in [s for s in url.split("/") if "{" in s]:
            url = url.replace(segment, segment.split("{")[0] + "1" + segment.split("}")[-1])
        for method in sorted({"GET", "PUT", "POST", "DELETE", "PATCH", "OPTIONS", "HEAD"} - documented):
            r = client.request(method, url, headers=admin.headers)
            got = {m.strip() for m in r.headers.get("allow", "").split(",") if m.strip()}
            media = "application/json" if path.startswith("/open311/") else "application/problem+json"
            problem = method == "HEAD" or r.headers.get("content-type") == media  # HEAD: no body
            if (r.status_code, got) != (405, allowed) or not problem:
                wrong.append((method, url, r.status_code, sorted(got), sorted(allowed)))
    assert not wrong, wrong


def test_concrete_paths_win_over_templates(client: TestClient, admin: Login) -> None:
    """GET /dossiers/events is not a dossier named 'events'; PUT /alert-rules/import is not rule 'import'."""
    r = client.get("/dossiers/events", headers=admin.headers)
    assert (r.status_code, r.headers["allow"]) == (405, "POST")
    r = client.put("/alert-rules/import", headers=admin.headers, json={})
    assert (r.status_code, r.headers["allow"]) == (405, "POST")
    assert client.get("/dossiers/calendar?year=2025", headers=admin.headers).status_code == 200


def test_unknown_paths_are_problems(client: TestClient) -> None:
    r = client.get("/no/such/route")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
