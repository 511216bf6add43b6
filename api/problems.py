"""Errors as RFC 9457 ``application/problem+json`` — or in a route family's own error format (a *dialect*: Open311
answers ``[{code, description}]`` as GeoReport v2 clients expect).

Every error the app produces passes through ``install``'s handlers: HTTP errors (with a correct ``Allow`` on 405),
validation errors naming the field and the value, ``ProblemError`` from routes and services, a database that is
down (503 with ``Retry-After``), and anything unexpected (500, logged). A path that is missing only a trailing slash
(or has one too many) is redirected with a *relative* ``Location``: the Host header never reaches a redirect.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import RedirectResponse, Response
from starlette.routing import Match

from ops_center.pagination import BadCursor

PROBLEM = "application/problem+json"
RETRY_AFTER_S = 5
TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
          409: "Conflict", 413: "Payload Too Large", 415: "Unsupported Media Type", 422: "Invalid request",
          429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}
log = logging.getLogger("api.problems")

Dialect = Callable[[int, str, str | None, dict[str, str] | None], Response]
"""``(status, title, detail, headers) → response`` for a family of routes with its own error format."""


def problem(status: int, title: str, detail: str | None = None, *, headers: dict[str, str] | None = None,
            **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


class ProblemError(Exception):
    """Raise from a route or service to answer with a problem: ``ProblemError(409, "Conflict", "…")``."""

    def __init__(self, status: int, title: str, detail: str | None = None, **extra: Any) -> None:
        super().__init__(detail or title)
        self.status, self.title, self.detail, self.extra = status, title, detail, extra


def short_value(value: Any) -> Any:
    """The offending value as JSON can carry it, cut to 200 characters."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)  # NaN and ±inf have no JSON form
    if value is None or isinstance(value, bool | int | float):
        return value
    text = value if isinstance(value, str) else repr(value)
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")  # a lone surrogate (JSON "\\ud800") as text
    return text if len(text) <= 200 else text[:200] + "…"


def _field(err: Any) -> str:
    """``username`` for a body field, ``query.limit`` style for the rest, ``body`` for an unreadable body."""
    loc = list(err.get("loc", ()))
    if err.get("type") == "json_invalid" or not loc:
        return "body"
    if loc[0] == "body":
        loc = loc[1:] or ["body"]
    return ".".join(str(p) for p in loc)


def slash_redirect(request: Request) -> RedirectResponse | None:
    """A relative redirect to the same path with the trailing slash added or removed, when a route matches that."""
    path = request.scope["path"]
    if path == "/":
        return None
    other = path.rstrip("/") if path.endswith("/") else path + "/"
    scope = {**request.scope, "path": other}
    if not any(route.matches(scope)[0] is not Match.NONE for route in iter_route_contexts(request.app.router.routes)):
        return None
    raw: bytes = request.scope.get("raw_path") or path.encode()
    target = raw.rstrip(b"/") if path.endswith("/") else raw + b"/"
    location = "/" + target.decode("latin-1").lstrip("/")  # never "//host": a path, not a network location
    query = request.scope.get("query_string", b"")
    if query:
        location += "?" + query.decode("latin-1")
    return RedirectResponse(location, status_code=307)


def install(app: FastAPI, dialects: Mapping[str, Dialect] | None = None) -> None:
    """The error handlers. ``dialects`` maps a path prefix to the error format of the routes under it."""
    families = dict(dialects or {})

    def answer(request: Request, status: int, title: str, detail: str | None = None,
               headers: dict[str, str] | None = None, **extra: Any) -> Response:
        for prefix, render in families.items():
            if request.scope["path"].startswith(prefix):
                return render(status, title, detail, headers)
        return problem(status, title, detail, headers=headers, **extra)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 404 and "route" not in request.scope:  # no route at all for this path
            redirect = slash_redirect(request)
            if redirect is not None:
                return redirect
        if exc.status_code == 405:
            from api.methods import allowed_methods

            headers["Allow"] = ", ".join(allowed_methods(request))
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail != TITLES.get(exc.status_code) else None
        if exc.status_code == 405:
            detail = f"{request.method} is not allowed here; allowed: {headers['Allow']}"
        return answer(request, exc.status_code, TITLES.get(exc.status_code, "Error"), detail, headers or None)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"field": _field(err), "message": err.get("msg", ""), "value": short_value(err.get("input"))}
            for err in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['message']} (got {e['value']!r})" for e in errors[:5])
        return answer(request, 422, "Invalid request", detail, errors=errors)

    @app.exception_handler(ProblemError)
    async def problem_error(request: Request, exc: ProblemError) -> Response:
        return answer(request, exc.status, exc.title, exc.detail, **exc.extra)

    @app.exception_handler(BadCursor)
    async def bad_cursor(request: Request, exc: BadCursor) -> Response:
        return answer(request, 400, "Bad cursor", str(exc))

    @app.exception_handler(psycopg.OperationalError)
    async def database_unavailable(request: Request, exc: psycopg.OperationalError) -> Response:
        """The database is down, restarting or saturated (a pool timeout is one of these): retry later."""
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
        return answer(request, 503, "Service Unavailable", "the database is unavailable; retry shortly",
                      {"Retry-After": str(RETRY_AFTER_S)})

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return answer(request, 500, "Internal Server Error", "an unexpected error occurred; it has been logged")
