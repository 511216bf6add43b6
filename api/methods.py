"""Which methods a path allows, the way the OpenAPI document says it: a concrete path wins over a templated one.

Starlette tries routes in order and takes the first that matches in full, so ``GET /dossiers/events`` (only POST is
declared there) fell through to ``GET /dossiers/{dossier_id:path}`` and ``PUT /alert-rules/import`` to
``PUT /alert-rules/{rule_id}`` (422: "import" is not an integer) — and a 405's ``Allow`` listed methods of the
templated route. OpenAPI matches concrete paths before templated ones; ``ConcretePaths`` makes the server agree:
a request to a concrete path with a method no concrete route there accepts answers 405 with ``Allow`` naming the
methods that path has (HEAD comes with GET). Other 405s get their ``Allow`` from ``allowed_methods``.
"""

from __future__ import annotations

from collections import defaultdict

from fastapi.routing import iter_route_contexts
from starlette.requests import Request
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from api.problems import problem


def concrete_paths(routes: list[object]) -> dict[str, frozenset[str]]:
    """``{path: methods}`` for every route path without a parameter."""
    found: dict[str, set[str]] = defaultdict(set)
    for route in iter_route_contexts(routes):  # type: ignore[arg-type]
        path = route.path_format
        if path and "{" not in path and route.methods:
            found[path] |= set(route.methods)
    return {path: frozenset(methods) for path, methods in found.items()}


def allowed_methods(request: Request) -> list[str]:
    """The methods the request's path allows: a concrete path's own, else those of every route matching it."""
    concrete = concrete_paths(request.app.router.routes)
    if request.scope["path"] in concrete:
        return sorted(concrete[request.scope["path"]])
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.router.routes):
        if route.matches(request.scope)[0] is not Match.NONE:
            methods |= set(route.methods or ())
    return sorted(methods)


class ConcretePaths:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._paths: dict[str, frozenset[str]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._paths is None:  # the routes are all in place by the first request
            self._paths = concrete_paths(scope["app"].router.routes)
        methods = self._paths.get(scope["path"])
        if methods is None or scope["method"] in methods:
            await self.app(scope, receive, send)
            return
        allow = ", ".join(sorted(methods))
        response = problem(405, "Method Not Allowed", f"{scope['method']} is not allowed here; allowed: {allow}",
                           headers={"Allow": allow})
        await response(scope, receive, send)
