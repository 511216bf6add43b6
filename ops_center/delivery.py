"""Outbound delivery shared by every outbox (alert notifications, federation snapshots): one HTTP attempt that
says whether a failure is worth retrying, and the exponential backoff between attempts.

Recoverable: timeouts, refused or broken connections, HTTP 5xx, 408, 425 and 429. Everything else (other 4xx) is
caused by the data or the credentials and is never retried: the row is failed and kept where an operator sees it.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

RETRYABLE_HTTP = frozenset({408, 425, 429})


@dataclass(frozen=True)
class SendResult:
    ok: bool
    recoverable: bool = False
    status_code: int | None = None
    error: str | None = None
    body: bytes = b""


def backoff(attempt: int, base_s: float, max_s: float, rng: random.Random | None = None) -> float:
    """``base_s × 2^(attempt-1)`` capped at ``max_s``, with ±20 % jitter so many senders do not retry in step."""
    delay: float = min(max_s, base_s * 2.0 ** max(attempt - 1, 0))
    jitter = rng.random() if rng is not None else random.random()
    return delay * (0.8 + 0.4 * jitter)


def post_json(url: str, content: bytes, headers: Mapping[str, str], timeout_s: float) -> SendResult:
    """POST ``content`` (already JSON-encoded) once; never raises for network or HTTP failures."""
    return post(url, content, {**headers, "Content-Type": "application/json"}, timeout_s)


def post(url: str, content: bytes, headers: Mapping[str, str], timeout_s: float) -> SendResult:
    """POST ``content`` once with ``headers`` (which name its Content-Type); never raises for network or HTTP
    failures: the result says whether a failure is worth retrying."""
    try:
        r = httpx.post(url, content=content, headers=dict(headers), timeout=timeout_s, follow_redirects=False)
    except httpx.TimeoutException as exc:
        return SendResult(False, True, None, f"timeout: {type(exc).__name__}")
    except httpx.TransportError as exc:
        return SendResult(False, True, None, f"transport: {type(exc).__name__}: {str(exc)[:200]}")
    if 200 <= r.status_code < 300:
        return SendResult(True, status_code=r.status_code, body=r.content)
    recoverable = r.status_code >= 500 or r.status_code in RETRYABLE_HTTP
    return SendResult(False, recoverable, r.status_code, f"HTTP {r.status_code}: {r.text[:300]}", r.content)
