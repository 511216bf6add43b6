"""Request parameters that no route may see: control characters in path, query and form parameters.

PostgreSQL cannot store NUL in text, so a NUL that reached a query answered 500; other C0 controls (and DEL) are
never part of an id, a code, a date, a cursor or a search term. One dependency, installed on the whole app
(``FastAPI(dependencies=...)``), refuses them for every route — present and future — before the route's own
validation runs, with the same 422 answer as any other invalid parameter, naming the parameter and the position of
the character (Open311 routes answer in their own error format; see ``api.problems``).

Encoding tricks do not get through either: percent-decoding of the path and the query string replaces invalid UTF-8
(``%FF``, overlong forms, encoded surrogates) with U+FFFD, which PostgreSQL stores like any other character.
Form fields are checked too (tab and line breaks allowed: they are text). A JSON body the route declares is
checked for what PostgreSQL cannot store at all — NUL, also as ``\\u0000``, and lone UTF-16 surrogates — anywhere in
the document, keys included (schemathesis found a NUL in an inhibition rule's matcher reaching jsonb as a 500);
everything else about a body is its model's and its service's business. Raw bodies a route reads itself (dossier
events, rule files) are validated by their own code.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import params
from fastapi.exceptions import RequestValidationError
from starlette.datastructures import UploadFile
from starlette.requests import HTTPConnection, Request

from ops_center.storable import json_problem

CONTROL = re.compile(r"[\x00-\x1f\x7f]")
TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
"""Form fields are text (an Open311 description has lines): tab, line feed and carriage return are allowed there."""
ERROR_TYPE = "string_control_character"
PARAMETER_PATTERN = "^[^\\x00-\\x1f\\x7f]*$"
FORM_TEXT_PATTERN = "^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]*$"
JSON_TEXT_PATTERN = "^[^\\x00]*$"
"""The rules above as JSON Schema patterns, for the OpenAPI document (``api.openapi``)."""


def control_character(value: str, pattern: re.Pattern[str] = CONTROL) -> str | None:
    """Why ``value`` is refused (the first control character and where it is), or None."""
    found = pattern.search(value)
    if found is None:
        return None
    name = " NUL" if found.group() == "\x00" else ""
    return f"must not contain control characters (U+{ord(found.group()):04X}{name} at position {found.start()})"


def _error(location: str, name: str, value: str, why: str) -> dict[str, Any]:
    return {"type": ERROR_TYPE, "loc": (location, name), "msg": why, "input": value}


def _body_kind(conn: HTTPConnection) -> str | None:
    """``form`` or ``json`` when FastAPI parsed the route's body (cached on the request), else None."""
    body = getattr(conn.scope.get("route"), "body_field", None)
    if body is None:
        return None
    if isinstance(body.field_info, params.Form):
        return "form"
    content_type = conn.headers.get("content-type", "").split(";")[0].strip().lower()
    return "json" if content_type == "application/json" or content_type.endswith("+json") else None



async def _form_items(conn: HTTPConnection) -> list[tuple[str, str]]:
    """The form's text values and upload file names; the form FastAPI already parsed for the route (cached)."""
    if not isinstance(conn, Request) or _body_kind(conn) != "form":
        return []
    items: list[tuple[str, str]] = []
    for name, value in (await conn.form()).multi_items():
        if isinstance(value, UploadFile):
            if value.filename:
                items.append((name, value.filename))
        else:
            items.append((name, value))
    return items


async def refuse_control_characters(conn: HTTPConnection) -> None:
    """422 naming every path, query or form parameter (or query parameter name) with a control character."""
    if conn.scope["type"] != "http":
        return
    errors: list[dict[str, Any]] = []
    for name, value in conn.path_params.items():
        if isinstance(value, str) and (why := control_character(value)):
            errors.append(_error("path", name, value, why))
    for name, value in conn.query_params.multi_items():
        if why := control_character(name):
            errors.append(_error("query", name, name, f"parameter name {why}"))
        elif why := control_character(value):
            errors.append(_error("query", name, value, why))
    for name, value in await _form_items(conn):
        if why := control_character(value, TEXT_CONTROL):
            errors.append(_error("body", name, value, why))
    if isinstance(conn, Request) and _body_kind(conn) == "json":
        try:
            document = await conn.json()  # parsed once already, for the route
        except ValueError:
            document = None  # not JSON: the route's own validation says so
        problem = json_problem(document, "body", numbers=False)
        if problem is not None:
            errors.append({"type": ERROR_TYPE, "loc": problem.loc, "msg": problem.message,
                           "input": problem.loc[-1] if problem.message.startswith("is a key")
                           else _at(document, problem.loc[1:])})
    if errors:
        raise RequestValidationError(errors)


def _at(document: Any, loc: tuple[str | int, ...]) -> Any:
    """The value at ``loc`` in a parsed JSON document."""
    for step in loc:
        found = (isinstance(document, dict) and step in document) or (
            isinstance(document, list) and isinstance(step, int) and step < len(document))
        if not found:
            return None
        document = document[step]
    return document
