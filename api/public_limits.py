"""Rate limits of the API's public, unauthenticated routes and the client address every limit is counted for.

The counting is ``ops_center.rate_limits.RateLimiter`` (the one mechanism, shared with login throttling: ``limits``
moving windows in Redis, per process in memory while Redis is away), one per app in ``app.state.rate_limiter``."""

from __future__ import annotations

from functools import lru_cache

from fastapi import Request
from limits import RateLimitItem, parse

from api.problems import ProblemError
from ops_center.rate_limits import RateLimiter

NAMESPACE = "public"


def client_address(request: Request) -> str:
    """The caller's address: the socket peer, or — when the peer is a trusted reverse proxy
    (``OPS_TRUSTED_PROXIES``) — the address it forwards, as uvicorn's ``ProxyHeadersMiddleware`` (added by
    ``api.app.create_app``) has set it."""
    return request.client.host if request.client is not None else "unknown"


@lru_cache(maxsize=64)
def _item(rate: str) -> RateLimitItem:
    return parse(rate)


def check_public_limit(request: Request, name: str, rate: str) -> None:
    """Count one request of the caller on the public route family ``name`` (limit ``rate``, e.g. "120/minute");
    ``ProblemError`` 429 with ``Retry-After`` when over it."""
    limiter: RateLimiter = request.app.state.rate_limiter
    item, client = _item(rate), client_address(request)
    if limiter.hit(item, NAMESPACE, name, client):
        return
    retry = limiter.retry_after(item, NAMESPACE, name, client)
    raise ProblemError(429, "Too Many Requests", f"more than {item} from {client}; retry in {retry} s",
                       headers={"Retry-After": str(retry)})
