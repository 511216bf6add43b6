"""Durations as people write them in rule files: ``90``, ``"90s"``, ``"5m"``, ``"1h30m"``, ``"2d"``."""

from __future__ import annotations

import math
import re

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
MAX_DURATION_S = 366 * 86400.0


def parse_duration(value: object) -> float:
    """Seconds for a number or a duration string; ``ValueError`` naming the value otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 300, '5m' or '1h30m', got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        if len(text) > 40:
            raise ValueError(f"duration too long ({len(text)} characters)")
        if re.fullmatch(r"\d+(\.\d+)?", text):
            seconds = float(text)
        else:
            pos, seconds = 0, 0.0
            for m in _PART.finditer(text):
                if m.start() != pos:
                    break
                seconds += float(m.group(1)) * _UNITS[m.group(2)]
                pos = m.end()
            if pos != len(text) or not text:
                raise ValueError(f"expected a duration such as 300, '5m' or '1h30m', got {value!r}")
    else:
        raise ValueError(f"expected a duration such as 300, '5m' or '1h30m', got {type(value).__name__}")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"duration must be a finite, non-negative number of seconds, got {value!r}")
    if seconds > MAX_DURATION_S:
        raise ValueError(f"duration must be at most 366 days, got {value!r}")
    return seconds


def format_duration(seconds: float) -> str:
    s = int(seconds)
    if s != seconds or s == 0:
        return f"{seconds:g}s"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s % size == 0:
            return f"{s // size}{unit}"
    return f"{s}s"
