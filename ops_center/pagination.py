"""Cursor pagination: an opaque cursor holds the sort key of the last item of the previous page."""

from __future__ import annotations

import base64
from typing import Any

import orjson

MAX_LIMIT = 500
DEFAULT_LIMIT = 50


class BadCursor(ValueError):
    pass


def encode_cursor(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(key, default=str)).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    if not cursor:
        return None
    if len(cursor) > 1024:
        raise BadCursor(f"cursor: too long ({len(cursor)} characters)")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = orjson.loads(raw)
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise BadCursor(f"cursor: {cursor[:40]!r} is not a cursor returned by this API") from exc
    if not isinstance(value, dict):
        raise BadCursor(f"cursor: {cursor[:40]!r} is not a cursor returned by this API")
    return value
