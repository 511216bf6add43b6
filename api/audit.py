"""Audit middleware: one ``audit_log`` row for every state-changing request, written before the response starts.

The actor comes from ``request.state.principal`` (set by the auth dependency) or ``request.state.audit_actor`` (set
by the login route); routes may add ``request.state.audit_target`` and ``request.state.audit_detail``.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ops_center.auth.audit import record
from ops_center.redact import redact, redact_value

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
log = logging.getLogger("api.audit")


class AuditMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WRITES:
            await self.app(scope, receive, send)
            return
        written = False

        async def audited_send(message: Message) -> None:
            nonlocal written
            if message["type"] == "http.response.start" and not written:
                written = True
                await anyio.to_thread.run_sync(self._write, scope, int(message["status"]))
            await send(message)

        await self.app(scope, receive, audited_send)

    @staticmethod
    def _write(scope: Scope, status: int) -> None:
        state: dict[str, Any] = scope.get("state", {})
        principal = state.get("principal")
        actor = principal.name if principal is not None else redact(str(state.get("audit_actor", "anonymous")))
        role = principal.role.value if principal is not None else None
        app = scope["app"]
        path = scope.get("path", "")
        target = redact(str(state.get("audit_target", path)))
        detail = redact_value(dict(state.get("audit_detail", {})))
        route = scope.get("route")
        action = f"{scope['method']} {getattr(route, 'path', path)}"
        try:
            with app.state.pool.connection() as conn:
                record(conn, actor, action, str(target), actor_role=role, status=status,
                       request_id=state.get("request_id"), detail=detail)
        except Exception:  # the audit must never turn a good answer into a crash; it is logged loudly
            log.exception("audit write failed for %s %s", scope["method"], path)
