"""Rate limiting of public, unauthenticated routes (library ``limits``, moving window, Redis storage shared by
every API process). When Redis cannot be reached the limit is kept per process in memory instead, so the public
warning feed stays up (and still limited) during a Redis outage."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from fastapi import Request
from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage
from limits.strategies import MovingWindowRateLimiter

from api.problems import ProblemError

log = logging.getLogger("api.public_limits")


@dataclass
class PublicLimiter:
    item: RateLimitItem
    shared: MovingWindowRateLimiter
    local: MovingWindowRateLimiter
    namespace: str

    def check(self, client: str) -> None:
        """Count one request of ``client``; ``ProblemError`` 429 with Retry-After when over the limit."""
        try:
            allowed = self.shared.hit(self.item, self.namespace, client)
            limiter = self.shared
        except StorageError as exc:
            log.warning("rate limit storage unavailable (%s); limiting in this process", exc)
            allowed = self.local.hit(self.item, self.namespace, client)
            limiter = self.local
        if allowed:
            return
        try:
            reset = limiter.get_window_stats(self.item, self.namespace, client).reset_time
        except StorageError:
            reset = 0.0
        retry = max(1, int(reset - time.time()) + 1)
        raise ProblemError(429, "Too Many Requests",
                           f"more than {self.item} from {client}; retry in {retry} s",
                           headers={"Retry-After": str(retry)})


_lock = threading.Lock()


def limiter_for(request: Request, name: str, rate: str, redis_url: str) -> PublicLimiter:
    """The app's limiter for ``name`` (created on first use, kept in ``app.state``)."""
    key = f"public_limiter_{name}"
    found: PublicLimiter | None = getattr(request.app.state, key, None)
    if found is not None and str(found.item) == str(parse(rate)):
        return found
    with _lock:
        storage = RedisStorage(redis_url, wrap_exceptions=True, key_prefix="ops_public",
                               socket_timeout=0.5, socket_connect_timeout=0.5)
        made = PublicLimiter(parse(rate), MovingWindowRateLimiter(storage), MovingWindowRateLimiter(MemoryStorage()),
                             name)
        setattr(request.app.state, key, made)
        return made


def client_address(request: Request) -> str:
    """The peer address as uvicorn reports it (behind our reverse proxy, uvicorn's proxy headers set it)."""
    return request.client.host if request.client else "unknown"
