"""The OpenAPI document says what the API does: every error a route can answer, in the format it answers it.

Mechanisms, not per-route boilerplate:

- **Dependencies declare their errors.** ``@declares(401)`` on ``authenticated``, ``@declares(403)`` on the role
  check, ``@declares(503)`` on the database dependencies: every route that uses them (directly, through a router,
  or through another dependency) documents those answers.
- **What the route's signature implies** is added from FastAPI's own description of the route: any parameter or
  body → 422 (the app's problem+json, not FastAPI's default schema), a path parameter → 404, a ``cursor`` → 400.
- **What only the route knows** (409, 413, 304, a 404 without a path parameter) is declared on the route with
  ``responses=errors(409, 413)``.
- Request bodies the route reads itself (a raw stream, a document validated by a service) are described with
  ``request_body(model, ...)``: the JSON Schema of the pydantic model that documents it.

Every 4xx/5xx is ``application/problem+json`` (``Problem``), except under ``/open311/`` where GeoReport v2's
``[{code, description}]`` is the format (``Open311Errors``, an invalid parameter is 400 there).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from api.parameters import FORM_TEXT_PATTERN, JSON_TEXT_PATTERN, PARAMETER_PATTERN
from api.problems import PROBLEM, RETRY_AFTER_S

F = TypeVar("F", bound=Callable[..., Any])
OPEN311_PREFIX = "/open311/"
ERROR_TEXT = {
    400: "Bad request: a cursor not returned by this API, or a body that cannot be parsed.",
    401: "Not authenticated: no bearer token or X-API-Key, or one that is invalid, expired or revoked.",
    403: "Forbidden: the principal's role may not do this.",
    404: "Not found: the message names the parameter and the value.",
    409: "Conflict with the current state (the message says with what).",
    413: "The request is larger than this route accepts.",
    422: "Invalid parameter or body: `errors` lists `{field, message, value}` for each.",
    429: "Too many requests: retry after the time in `Retry-After`.",
    503: f"The database is unavailable (down, restarting or saturated): retry after `Retry-After` ({RETRY_AFTER_S} s).",
}
HEADERS = {
    401: {"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}},
    429: {"Retry-After": {"description": "seconds", "schema": {"type": "integer"}}},
    503: {"Retry-After": {"description": "seconds", "schema": {"type": "integer"}}},
}
DESCRIPTION = f"""Operations center backend: telemetry, wards, alerts, incidents, dossiers.

**Authentication.** `POST /auth/token` (OAuth2 password flow) gives a short-lived bearer JWT; integrations send an
API key in `X-API-Key`. Every route except health, login, the screens and Open311 reads needs one; each route names
the roles it allows (403 otherwise).

**Errors** are `application/problem+json` (RFC 9457: `type`, `title`, `status`, `detail`; 422 adds
`errors: [{{field, message, value}}]`, naming every invalid parameter or body field and its value). Open311 routes
answer in GeoReport v2's format, `[{{"code": 400, "description": "..."}}]`. A method a path does not support answers
405 with an `Allow` header listing the methods it does. While the database is unavailable, routes answer 503 with
`Retry-After: {RETRY_AFTER_S}`. Control characters in path, query and form parameters are refused with 422.

**Lists** are paginated: pass the `next_cursor` of a page as `cursor` to get the next one.
"""


class FieldError(BaseModel):
    field: str = Field(description="`query.limit`, `path.device_id`, a body field such as `name`, or `body`")
    message: str
    value: Any = Field(default=None, description="the value received, cut to 200 characters")


class Problem(BaseModel):
    """RFC 9457 problem details."""

    model_config = ConfigDict(extra="allow")
    type: str = "about:blank"
    title: str
    status: int = Field(ge=400, le=599)
    detail: str | None = None
    errors: list[FieldError] | None = Field(default=None, description="422: one entry per invalid field")


class Open311Error(BaseModel):
    code: int = Field(ge=400, le=599)
    description: str = Field(description="names the field and the value")


def declares(*statuses: int) -> Callable[[F], F]:
    """Mark a dependency with the error statuses it answers; every route using it documents them."""

    def mark(fn: F) -> F:
        fn.__api_errors__ = tuple(sorted({*getattr(fn, "__api_errors__", ()), *statuses}))  # type: ignore[attr-defined]
        return fn

    return mark


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: the statuses only it knows it answers (the format is filled in centrally)."""
    return {status: {"description": ERROR_TEXT.get(status, "Error")} for status in statuses}


def request_body(schema_of: type[BaseModel] | TypeAdapter[Any] | dict[str, Any], *,
                 media_type: str = "application/json", description: str = "",
                 required: bool = True) -> dict[str, Any]:
    """``openapi_extra=`` documenting a body the route reads itself (a stream, a document a service validates):
    the JSON Schema of the model (or the schema given) replaces whatever FastAPI inferred from the signature."""
    if isinstance(schema_of, dict):
        schema, definitions = dict(schema_of), {}
    else:
        adapter = schema_of if isinstance(schema_of, TypeAdapter) else TypeAdapter(schema_of)
        schema = adapter.json_schema(ref_template="#/components/schemas/{model}")
        definitions = schema.pop("$defs", {})
    body = {"required": required, "description": description, "content": {media_type: {"schema": schema}}}
    return {"x-ops-request-body": body, "x-ops-defs": definitions}


def _dependencies(dependant: Dependant) -> Iterator[Dependant]:
    for sub in dependant.dependencies:
        yield sub
        yield from _dependencies(sub)


def route_errors(route: Any) -> set[int]:
    """The error statuses a route answers, from its dependencies and its signature."""
    found: set[int] = set()
    for dep in _dependencies(route.dependant):
        found.update(getattr(dep.call, "__api_errors__", ()))
    params = [*route.dependant.path_params, *route.dependant.query_params, *route.dependant.header_params,
              *route.dependant.cookie_params]
    for dep in _dependencies(route.dependant):
        params += [*dep.path_params, *dep.query_params, *dep.header_params, *dep.cookie_params]
    has_body = route.body_field is not None or "x-ops-request-body" in (route.openapi_extra or {})
    if params or has_body:
        found.add(422)
    if has_body:
        found.add(400)  # a body that cannot be parsed at all (not JSON, not a form)
    if route.dependant.path_params:
        found.add(404)
    if any(p.name == "cursor" for p in params):
        found.add(400)
    return found


def _error_response(status: int, path: str, existing: dict[str, Any]) -> dict[str, Any]:
    if path.startswith(OPEN311_PREFIX):
        content = {"application/json": {"schema": {"type": "array", "minItems": 1,
                                                   "items": {"$ref": "#/components/schemas/Open311Error"}}}}
    else:
        content = {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    description = existing.get("description")
    if not description or description == "Validation Error":  # FastAPI's default text for its own 422
        description = ERROR_TEXT.get(status, "Error")
    out: dict[str, Any] = {"description": description, "content": content}
    if status in HEADERS:
        out["headers"] = HEADERS[status]
    return out


def _document_route(doc: dict[str, Any], route: Any) -> None:
    path_item = doc["paths"].get(route.path_format, {})
    statuses = route_errors(route)
    for method in route.methods or ():
        operation = path_item.get(method.lower())
        if operation is None:
            continue
        for name, schema in operation.pop("x-ops-defs", {}).items():
            doc.setdefault("components", {}).setdefault("schemas", {}).setdefault(name, schema)
        if "x-ops-request-body" in operation:
            operation["requestBody"] = operation.pop("x-ops-request-body")
        responses = operation.setdefault("responses", {})
        wanted = {int(code) for code in responses if str(code).isdigit() and int(code) >= 400} | statuses
        if route.path_format.startswith(OPEN311_PREFIX) and 422 in wanted:
            wanted = (wanted - {422}) | {400}
            responses.pop("422", None)
        for status in sorted(wanted):
            responses[str(status)] = _error_response(status, route.path_format, responses.get(str(status), {}))


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
CURSOR_PATTERN = "^[A-Za-z0-9_-]*$"  # base64url, as ops_center.pagination writes it


def _constrain_text(schema: dict[str, Any], pattern: str) -> None:
    """Give a free text schema (no pattern, enum or format of its own) the pattern the app enforces on it."""
    for option in schema.get("anyOf", [schema]):
        target = option.get("items", option) if option.get("type") == "array" else option
        if target.get("type") == "string" and not {"pattern", "enum", "format", "const"} & set(target):
            target["pattern"] = pattern


def _document_parameter_rules(doc: dict[str, Any]) -> None:
    """What ``api.parameters`` refuses, stated in the document: no control characters in path and query
    parameters (form text keeps tabs and line breaks); a ``cursor`` is base64url."""
    for item in doc["paths"].values():
        for operation in item.values():
            for param in operation.get("parameters", []):
                if param["in"] not in ("path", "query"):
                    continue
                if param["name"] == "cursor":
                    _constrain_text(param["schema"], CURSOR_PATTERN)
                _constrain_text(param["schema"], PARAMETER_PATTERN)
    schemas = doc.get("components", {}).get("schemas", {})
    for name, schema in schemas.items():
        if name.startswith("Body_"):  # FastAPI's form bodies
            for prop in schema.get("properties", {}).values():
                _constrain_text(prop, FORM_TEXT_PATTERN)


def _without_null(schema: dict[str, Any]) -> None:
    options = [o for o in schema.get("anyOf", []) if o.get("type") != "null"]
    if "anyOf" in schema and len(options) == 1:
        del schema["anyOf"]
        schema.update(options[0])
    elif "anyOf" in schema:
        schema["anyOf"] = options


def _forms_without_null(doc: dict[str, Any]) -> None:
    """A form field or a query parameter cannot be null (leaving it out is how a form or a URL says "none"):
    drop FastAPI's ``null`` branch from optional form fields and parameters (schemathesis sent ``?device_id=true``
    as a "boolean instead of null" that is in fact a valid id)."""
    schemas = doc.get("components", {}).get("schemas", {})
    for item in doc["paths"].values():
        for operation in item.values():
            for param in operation.get("parameters", []):
                _without_null(param["schema"])
            for media, content in operation.get("requestBody", {}).get("content", {}).items():
                ref = content.get("schema", {}).get("$ref", "")
                if media not in FORM_TYPES or not ref.startswith("#/components/schemas/"):
                    continue
                for prop in schemas[ref.rsplit("/", 1)[1]].get("properties", {}).values():
                    _without_null(prop)


def _closed_variants(schema: dict[str, Any]) -> bool:
    """An object whose ``oneOf`` variants each list their keys and refuse any other (a typed event): its key names
    are already known, NUL-free."""
    variants = schema.get("oneOf")
    return isinstance(variants, list) and bool(variants) and all(
        isinstance(v, dict) and v.get("additionalProperties") is False for v in variants)


def _walk_schema(schema: Any, schemas: dict[str, Any], seen: set[str]) -> None:
    """State NUL-free text on one request schema and everything it refers to (once per component)."""
    if isinstance(schema, list):
        for item in schema:
            _walk_schema(item, schemas, seen)
        return
    if not isinstance(schema, dict):
        return
    ref = schema.get("$ref", "")
    if ref.startswith("#/components/schemas/"):
        name = ref.rsplit("/", 1)[1]
        if name not in seen:
            seen.add(name)
            _walk_schema(schemas.get(name), schemas, seen)
        return
    if schema.get("type") == "string" and not {"pattern", "enum", "format", "const"} & set(schema):
        schema["pattern"] = JSON_TEXT_PATTERN
    if schema.get("type") == "object" and schema.get("additionalProperties") is not False and not _closed_variants(
            schema):
        schema.setdefault("propertyNames", {"pattern": JSON_TEXT_PATTERN})
    for key, value in schema.items():
        if key not in ("propertyNames", "examples", "default", "enum", "const"):
            _walk_schema(value, schemas, seen)


def _document_json_text(doc: dict[str, Any]) -> None:
    """What ``api.parameters`` refuses in JSON bodies (NUL anywhere, keys too), stated on their schemas."""
    schemas = doc.get("components", {}).get("schemas", {})
    seen: set[str] = set()
    for item in doc["paths"].values():
        for operation in item.values():
            for media, content in operation.get("requestBody", {}).get("content", {}).items():
                if media == "application/json":
                    _walk_schema(content.get("schema"), schemas, seen)


def build(app: FastAPI) -> dict[str, Any]:
    doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for model in (FieldError, Problem, Open311Error):
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for route in iter_route_contexts(app.routes):  # an APIRoute as included (router dependencies and prefix)
        if isinstance(route.original_route, APIRoute) and route.include_in_schema:
            _document_route(doc, route)
    _forms_without_null(doc)
    _document_parameter_rules(doc)
    _document_json_text(doc)
    return doc


def install(app: FastAPI) -> None:
    """``app.openapi()`` builds (once) the document described above."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
