"""The one rate-limiting mechanism: the ``limits`` library's moving windows, counted in Redis (``OPS_REDIS_URL``) so
that every API process shares one count. Used by login throttling (``ops_center.auth.throttle``) and by the public
routes (``api.public_limits``).

Redis unreachable: the counts are kept in this process's memory instead, so a limit still holds (per process) and
nothing that is limited depends on Redis being up. After a failure Redis is left alone for ``retry_s`` seconds (no
request pays a connection timeout each time) and the outage is logged once; counts made meanwhile stay local.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Final, TypeVar

from limits import RateLimitItem
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage
from limits.strategies import MovingWindowRateLimiter

log = logging.getLogger("ops_center.rate_limits")
T = TypeVar("T")
TIMEOUT_S: Final = 0.5
"""Redis socket and connect timeouts: a limit check never waits longer for the shared store."""


class RateLimiter:
    """``hit`` counts a request and says whether it is within ``item``; ``test`` only asks; ``retry_after`` is how
    long until the window admits one more; ``clear`` forgets a count. ``ids`` name the budget (a namespace, then
    e.g. the client address); they are keys, never logged."""

    def __init__(self, redis_url: str, key_prefix: str = "ops-limits", retry_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        storage = RedisStorage(redis_url, wrap_exceptions=True, key_prefix=key_prefix, socket_timeout=TIMEOUT_S,
                               socket_connect_timeout=TIMEOUT_S)
        self._shared = MovingWindowRateLimiter(storage)
        self._local = MovingWindowRateLimiter(MemoryStorage())
        self._retry_s, self._clock = retry_s, clock
        self._down_until = 0.0
        self._lock = threading.Lock()

    def _run(self, op: Callable[[MovingWindowRateLimiter], T]) -> T:
        if self._clock() >= self._down_until:
            try:
                return op(self._shared)
            except StorageError as exc:
                with self._lock:
                    if self._clock() >= self._down_until:
                        log.warning("rate limits: Redis unavailable (%s); counting in this process for %.0f s",
                                    exc.storage_error, self._retry_s)
                    self._down_until = self._clock() + self._retry_s
        return op(self._local)

    def hit(self, item: RateLimitItem, *ids: str) -> bool:
        return self._run(lambda limiter: limiter.hit(item, *ids))

    def test(self, item: RateLimitItem, *ids: str) -> bool:
        return self._run(lambda limiter: limiter.test(item, *ids))

    def retry_after(self, item: RateLimitItem, *ids: str) -> int:
        """Whole seconds (at least 1) until the window of ``ids`` admits one more request."""
        reset = self._run(lambda limiter: limiter.get_window_stats(item, *ids).reset_time)
        return max(1, math.ceil(reset - time.time()))

    def clear(self, item: RateLimitItem, *ids: str) -> None:
        self._run(lambda limiter: limiter.clear(item, *ids))
