"""The one rate-limiting mechanism (``ops_center.rate_limits``): counts shared through the stack's Redis by two
limiters (two API processes' worth), kept per process in memory while Redis is unreachable (logged once, Redis left
alone for a while, then used again), ``retry_after`` within the window, ``clear``."""

from __future__ import annotations

import logging
import secrets

import pytest
from limits import parse

from ops_center.rate_limits import RateLimiter
from ops_center.settings import Settings
from tests.support.services import free_port


def test_two_limiters_share_one_count_through_redis(settings: Settings) -> None:
    a, b = RateLimiter(settings.redis_url), RateLimiter(settings.redis_url)
    item, who = parse("3/minute"), secrets.token_hex(4)
    assert [a.hit(item, "t", who), b.hit(item, "t", who), a.hit(item, "t", who)] == [True] * 3
    assert not b.test(item, "t", who) and not b.hit(item, "t", who)
    assert 1 <= a.retry_after(item, "t", who) <= 60
    assert a.hit(item, "t", "someone-else")
    b.clear(item, "t", who)
    assert a.test(item, "t", who)


def test_without_redis_the_limit_holds_per_process(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    down = RateLimiter(f"redis://127.0.0.1:{free_port()}/0", retry_s=5.0, clock=lambda: now[0])
    item = parse("2/minute")
    with caplog.at_level(logging.WARNING, logger="ops_center.rate_limits"):
        assert [down.hit(item, "t", "x") for _ in range(3)] == [True, True, False]
        assert not down.test(item, "t", "x") and 1 <= down.retry_after(item, "t", "x") <= 60
    assert len([r for r in caplog.records if "Redis unavailable" in r.getMessage()]) == 1
    now[0] = 10.0  # after retry_s Redis is tried again (still down: one more line)
    with caplog.at_level(logging.WARNING, logger="ops_center.rate_limits"):
        assert not down.hit(item, "t", "x")
    assert len([r for r in caplog.records if "Redis unavailable" in r.getMessage()]) == 2
