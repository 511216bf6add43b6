"""The API's read side (docs/scaling.md): where the read-heavy routes read, and nothing else knows about replicas.

- ``get_read_conn`` (``api.deps.ReadConn``): one read-only transaction on a streaming replica fit to serve
  (``ops_center.db_replicas.ReplicaSet``), else on the primary. Read-only on the primary too, so a route that
  writes through it fails in every test, not only where a replica serves it.
- ``ReadRoute`` (the ``route_class`` of routers with such routes): a GET whose replica fails mid-request (the
  server stopped, a query cancelled by a recovery conflict) is served again from the primary — no 5xx for it. The
  database being down stays a 503 (``api.problems``), as for every route.
- ``ReadAfterWrite``: after a client's successful write its reads stay on the primary for
  ``OPS_DB_REPLICA_STICKY_S`` (a cookie holding only that time), so a client reads its own writes.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import psycopg
from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.openapi import declares
from ops_center.db import Conn
from ops_center.db_replicas import ReadSource, ReplicaSet

log = logging.getLogger("api.replica_reads")

READ_PRIMARY_COOKIE = "ops_read_primary"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def replicas_of(request: Request) -> ReplicaSet | None:
    replicas: ReplicaSet | None = getattr(request.app.state, "replicas", None)
    return replicas if replicas is not None and replicas.configured else None


def _wants_primary(request: Request) -> bool:
    """This attempt must read the primary: a replica failed it, or the client wrote a moment ago."""
    if getattr(request.state, "read_primary", False):
        return True
    try:
        until = float(request.cookies.get(READ_PRIMARY_COOKIE, ""))
    except ValueError:
        return False
    return math.isfinite(until) and until > time.time()


def _read_only(conn: Conn) -> Iterator[Conn]:
    """One read-only transaction. Closing it can fail only on a connection that broke after the route was done
    (its read was served again from the primary): a read has nothing to commit, so that failure is dropped."""
    done = False
    try:
        with conn.transaction():
            conn.execute("SET TRANSACTION READ ONLY")
            yield conn
            done = True
    except psycopg.Error as exc:
        if not done:
            raise
        log.info("a read transaction ended with %s (nothing to commit)", type(exc).__name__)


def _replica_conn(replicas: ReplicaSet, source: ReadSource) -> Conn | None:
    try:
        return source.pool.getconn(timeout=replicas.pool_timeout_s)
    except psycopg.OperationalError as exc:  # PoolTimeout is one: the replica is down or saturated
        replicas.report_failure(source.name, exc)
        return None


@declares(503)
def get_read_conn(request: Request) -> Iterator[Conn]:
    """A read-only transaction on a fit replica, else on the primary."""
    replicas = replicas_of(request)
    if replicas is not None:
        source = replicas.source(primary_only=_wants_primary(request))
        conn = _replica_conn(replicas, source) if source.replica else None
        if conn is not None:
            request.state.read_replica = source.name
            try:
                yield from _read_only(conn)
            finally:
                source.pool.putconn(conn)
            return
    request.state.read_replica = None
    pool = request.app.state.pool
    with pool.connection() as conn:
        yield from _read_only(conn)


class ReadRoute(APIRoute):
    """A route class for routers with ``ReadConn`` routes: a GET that fails on its replica is served again, once,
    from the primary (and the replica is not used until a check finds it good again)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def serve(request: Request) -> Response:
            try:
                return await handler(request)
            except psycopg.OperationalError as exc:
                name = getattr(request.state, "read_replica", None)
                replicas = replicas_of(request)
                if name is None or replicas is None or request.method not in SAFE_METHODS:
                    raise
                replicas.report_failure(name, exc)
                log.warning("replica %s failed %s %s (%s); served from the primary", name, request.method,
                            request.url.path, type(exc).__name__)
                request.state.read_primary, request.state.read_replica = True, None
                return await handler(request)

        return serve


class ReadAfterWrite:
    """ASGI middleware: a successful write (any method but GET/HEAD/OPTIONS, answered below 400) sets a cookie that
    keeps the client's reads on the primary for ``OPS_DB_REPLICA_STICKY_S``. Only when replicas are configured."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        sticky = self._sticky_s(scope)
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS or sticky <= 0:
            await self.app(scope, receive, send)
            return
        cookie = (f"{READ_PRIMARY_COOKIE}={time.time() + sticky:.3f}; Max-Age={math.ceil(sticky)}; Path=/; "
                  "HttpOnly; SameSite=Strict" + ("; Secure" if scope.get("scheme") == "https" else ""))

        async def send_marked(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] < 400:
                MutableHeaders(scope=message).append("set-cookie", cookie)
            await send(message)

        await self.app(scope, receive, send_marked)

    @staticmethod
    def _sticky_s(scope: Scope) -> float:
        state = getattr(scope.get("app"), "state", None)
        replicas: ReplicaSet | None = getattr(state, "replicas", None)
        if state is None or replicas is None or not replicas.configured:
            return 0.0
        return float(state.settings.db_replica_sticky_s)
