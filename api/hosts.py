"""Trusted hosts: a request whose ``Host`` is not one the API serves is refused before any route runs.

Starlette's ``TrustedHostMiddleware`` applies the same rule (exact names, ``*.example.vn`` for subdomains, ``*``
for any); this one answers in problem+json like every other error and never redirects (Starlette's ``www_redirect``
builds an absolute URL from the request). The names come from ``Settings.allowed_hosts`` (``OPS_ALLOWED_HOSTS``).
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from api.problems import problem


def host_name(header: str | None) -> str | None:
    """The host part of a Host header, lower case, without the port (``[::1]:8000`` → ``::1``)."""
    if not header:
        return None
    header = header.strip().lower()
    if header.startswith("["):  # an IPv6 literal
        end = header.find("]")
        return header[1:end] if end > 0 else None
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def check_patterns(patterns: Sequence[str]) -> list[str]:
    """The patterns, lower case; a wildcard is only ``*`` or a leading ``*.``."""
    out = []
    for pattern in patterns:
        if "*" in pattern[1:] or (pattern.startswith("*") and pattern != "*" and not pattern.startswith("*.")):
            raise ValueError(f"allowed_hosts: {pattern!r} — a wildcard must be '*' or like '*.example.vn'")
        out.append(pattern.lower())
    return out


class TrustedHosts:
    def __init__(self, app: ASGIApp, allowed_hosts: Sequence[str]) -> None:
        self.app = app
        self.patterns = check_patterns(allowed_hosts)
        self.allow_any = "*" in self.patterns

    def trusted(self, host: str | None) -> bool:
        if host is None:
            return False
        return any(host == p or (p.startswith("*.") and host.endswith(p[1:])) for p in self.patterns)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.allow_any or scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        header = Headers(scope=scope).get("host")
        if self.trusted(host_name(header)):
            await self.app(scope, receive, send)
            return
        shown = (header or "")[:100].encode("ascii", "backslashreplace").decode()
        response = problem(400, "Bad Request", f"host: {shown!r} is not a host this API serves",
                           field="host", value=shown)
        await response(scope, receive, send)
